#!/usr/bin/perl
# SPDX-License-Identifier: GPL-2.0
#
# report.pl BENCHDIR OUT...  (called by tools/vm/bench.sh)
#
# Turns each kernel's OUT/results/bench-raw.csv (one line per run, see
# tools/bench/run-guest.sh) into, in BENCHDIR:
#   raw.csv            all runs of all kernels
#   results.csv        per kernel and metric: median, min and max of every
#                      implementation, and the ratios vhnet/in-tree and
#                      vhnet/userspace (of the medians, and the range of
#                      the per-round ratios: rounds are interleaved)
#   results.md         the same as Markdown tables, with the setup
#   bench-<kver>.png   one panel per metric (gnuplot), via .dat and .gp
# Prints the paths it wrote.
use strict;
use warnings;
use POSIX qw(strftime);

my ($dir, @outs) = @ARGV;
die "usage: report.pl BENCHDIR OUT...\n" unless $dir && @outs;

my @impls = ('vhnet', 'vhost-net', 'userspace', 'limit');
my %iname = (
	'vhnet' => 'vhnet',
	'vhost-net' => 'in-tree vhost-net',
	'userspace' => 'userspace loop',
	'limit' => 'limit',
);
my %color = (
	'vhnet' => '#1f77b4',
	'vhost-net' => '#ff7f0e',
	'userspace' => '#2ca02c',
	'limit' => '#7f7f7f',
);
# metric => [raw metric, value column, scale, unit, title, limit meaning]
my @metrics = (
	['tx64', 'tx64', 'pps', 1e-3, 'kpps', 'TX 64 B',
	 'one thread write()s the frames into the tap'],
	['rx64', 'rx64', 'pps', 1e-3, 'kpps', 'RX 64 B',
	 'pktgen into the tap, nobody reading: frames dropped'],
	['tx1500', 'tx1500', 'gbps', 1, 'Gbit/s', 'TX 1514 B',
	 'one thread write()s the frames into the tap'],
	['rx1500', 'rx1500', 'gbps', 1, 'Gbit/s', 'RX 1514 B',
	 'pktgen into the tap, nobody reading: frames dropped'],
	['txgso', 'txgso', 'gbps', 1, 'Gbit/s', 'TX 64 KB GSO',
	 'one thread write()s the frames into the tap'],
	['rxgso', 'rxgso', 'gbps', 1, 'Gbit/s', 'RX 64 KB',
	 'pktgen into the tap, nobody reading: frames dropped'],
	['rtt50', 'ping', 'p50_us', 1, 'us', 'ping-pong RTT p50 (lower is better)',
	 'one thread write()s the request into the tap and read()s the reply'],
	['rtt99', 'ping', 'p99_us', 1, 'us', 'ping-pong RTT p99 (lower is better)',
	 'one thread write()s the request into the tap and read()s the reply'],
	['rtt50bp', 'pingbp', 'p50_us', 1, 'us',
	 'ping-pong RTT p50, device busy polling 50 us', 'none'],
	['rtt99bp', 'pingbp', 'p99_us', 1, 'us',
	 'ping-pong RTT p99, device busy polling 50 us', 'none'],
);

sub median {
	my @v = sort { $a <=> $b } @_;
	return undef unless @v;
	my $n = @v;
	return $n % 2 ? $v[($n - 1) / 2] : ($v[$n / 2 - 1] + $v[$n / 2]) / 2;
}

sub minmax {
	my @v = sort { $a <=> $b } @_;
	return (@v ? ($v[0], $v[-1]) : (undef, undef));
}

sub fmt {
	my ($v) = @_;
	return 'n/a' unless defined $v;
	my $a = abs($v);
	return sprintf('%.0f', $v) if $a >= 100;
	return sprintf('%.1f', $v) if $a >= 10;
	return sprintf('%.2f', $v) if $a >= 1;
	return sprintf('%.3f', $v);
}

sub kv {
	my ($file) = @_;
	my %h;
	open(my $fh, '<', $file) or return %h;
	while (<$fh>) {
		chomp;
		$h{$1} = $2 if /^(\w+)=(.*)$/;
	}
	close($fh);
	return %h;
}

my (@raw_lines, $raw_header, @csv, @md);
push @csv, join(',', 'kernel', 'metric', 'unit',
		(map { ("${_}_median", "${_}_min", "${_}_max", "${_}_rounds") }
		 @impls),
		'memcpy_gbps', 'vhnet_over_vhost_net', 'vhnet_over_vhost_net_min',
		'vhnet_over_vhost_net_max', 'vhnet_over_userspace',
		'vhnet_over_userspace_min', 'vhnet_over_userspace_max');
my $date = strftime('%Y-%m-%d %H:%M UTC', gmtime);
push @md, "# vhnet benchmark ($date)", '';
my @written;

for my $out (@outs) {
	my $file = "$out/results/bench-raw.csv";
	open(my $fh, '<', $file) or die "report: $file: $!\n";
	my $hdr = <$fh>;
	chomp $hdr;
	$raw_header //= $hdr;
	my @cols = split /,/, $hdr;
	my (%val, %offered, $kver);
	while (my $line = <$fh>) {
		chomp $line;
		next unless $line;
		push @raw_lines, $line;
		my %r;
		@r{@cols} = split /,/, $line;
		$kver = $r{kernel};
		push @{$val{$r{metric}}{$r{impl}}{$_}}, [$r{round}, $r{$_}]
			for qw(pps gbps p50_us p99_us);
		push @{$offered{$r{metric}}{$r{impl}}}, [$r{pps}, $r{offered},
		    $r{dropped}, $r{seconds}] if $r{offered};
	}
	close($fh);
	next unless $kver;
	my %g = kv("$out/results/bench-guest.txt");
	my %h = kv("$out/results/bench-host.txt");
	my $accel = uc($h{accel} // '?');
	my $cpu = $g{cpu} // '?';
	my $hcpu = $h{host_cpu} // '?';

	# memcpy: one number per kernel
	my @mc = map { $_->[1] } @{$val{memcpy}{limit}{gbps} // []};
	my $memcpy = median(@mc);
	my ($mcmin, $mcmax) = minmax(@mc);

	push @md, "## Kernel $kver", '',
		"- accelerator: **$accel**" .
		($accel eq 'TCG' ? ' (no KVM: QEMU emulates every instruction; absolute numbers are distorted, only the ratios carry over)' : ''),
		"- guest CPU: $cpu, $g{ncpu} vCPUs, " .
		sprintf('%.0f', ($g{memory_kb} // 0) / 1024) . ' MB; host CPU: ' .
		"$hcpu ($h{host_ncpu} cores), $h{qemu}",
		"- host load average before/after: $h{loadavg_before} / $h{loadavg_after}",
		"- in-tree vhost_net experimental_zcopytx=$g{vhost_net_zcopytx}",
		"- VM time: $h{vm_seconds} s",
		'',
		'Each cell: median (min-max) over the rounds. Ratios: median of ' .
		'vhnet over median of the other (min-max of the per-round ' .
		'ratios, rounds being interleaved).',
		'',
		'| metric | unit | vhnet | in-tree vhost-net | userspace loop | limit | vhnet / in-tree | vhnet / userspace |',
		'|---|---|---|---|---|---|---|---|';

	my (@dat, @panels);
	for my $m (@metrics) {
		my ($name, $raw, $col, $scale, $unit, $title) = @$m;
		my (%med, %lo, %hi, %n, %byround);
		for my $i (@impls) {
			my @pairs = @{$val{$raw}{$i}{$col} // []};
			my @v = map { $_->[1] * $scale } @pairs;
			$byround{$i}{$_->[0]} = $_->[1] * $scale for @pairs;
			$n{$i} = scalar @v;
			$med{$i} = median(@v);
			($lo{$i}, $hi{$i}) = minmax(@v);
		}
		my @ratio;
		for my $o ('vhost-net', 'userspace') {
			my @rr;
			for my $rd (keys %{$byround{vhnet}}) {
				my $d = $byround{$o}{$rd};
				push @rr, $byround{vhnet}{$rd} / $d if $d;
			}
			my ($a, $b) = minmax(@rr);
			my $r = defined $med{vhnet} && $med{$o} ?
				$med{vhnet} / $med{$o} : undef;
			push @ratio, [$r, $a, $b];
		}
		my @cells = map {
			defined $med{$_} ? fmt($med{$_}) . ' (' . fmt($lo{$_}) .
			'-' . fmt($hi{$_}) . ')' : 'n/a'
		} @impls;
		my @rcells = map {
			defined $_->[0] ? sprintf('%.2f (%.2f-%.2f)', $_->[0],
			    $_->[1] // 0, $_->[2] // 0) : 'n/a'
		} @ratio;
		push @md, "| $title | $unit | " . join(' | ', @cells, @rcells) .
			' |';
		push @csv, join(',', $kver, $name, $unit,
			(map { (fmt2($med{$_}), fmt2($lo{$_}), fmt2($hi{$_}),
				$n{$_}) } @impls),
			($unit eq 'Gbit/s' ? fmt2($memcpy) : ''),
			map { (fmt2($_->[0]), fmt2($_->[1]), fmt2($_->[2])) }
			@ratio);

		# gnuplot block: label, median, min, max, colour
		my @rows;
		for my $i (@impls) {
			next unless defined $med{$i};
			my $label = $i eq 'limit' ? 'limit (tap)' :
				    $i eq 'vhost-net' ? 'in-tree' : $i;
			push @rows, sprintf('"%s" %g %g %g 0x%s "%s"', $label,
			    $med{$i}, $lo{$i}, $hi{$i}, substr($color{$i}, 1),
			    fmt($med{$i}));
		}
		# A metric left out (BENCH_METRICS) or that failed: no panel;
		# gnuplot refuses an empty data block.
		next unless @rows;
		push @dat, "# $name", @rows, '', '';
		# memcpy would flatten the other bars: a number in the title.
		push @panels, "$title ($unit)" .
			($unit eq 'Gbit/s' && defined $memcpy ?
			 sprintf('\\nmemcpy, 1 thread: %s Gbit/s', fmt($memcpy)) :
			 '');
	}
	push @md, "| memcpy, 1 thread, 64 KiB blocks | Gbit/s | | | | " .
		(defined $memcpy ? fmt($memcpy) . ' (' . fmt($mcmin) . '-' .
		 fmt($mcmax) . ')' : 'n/a') . ' | | |';
	push @csv, join(',', $kver, 'memcpy', 'Gbit/s', ('') x 12,
			fmt2($memcpy), 'n/a', '', '', '', '', ''), if 0;

	# Proof that pktgen outran the guest: what it offered during RX runs.
	push @md, '', 'RX source (pktgen on its own vCPU) during the RX runs: ' .
		'offered rate, and the share the tap dropped because the ' .
		'implementation could not keep up:', '';
	for my $raw ('rx64', 'rx1500', 'rxgso') {
		my @parts;
		for my $i ('vhnet', 'vhost-net', 'userspace') {
			my @o = @{$offered{$raw}{$i} // []};
			next unless @o;
			my $off = median(map { $_->[1] / $_->[3] / 1e3 } @o);
			my $drop = median(map { 100 * $_->[2] / $_->[1] } @o);
			push @parts, sprintf('%s %s kpps offered, %.0f%% dropped',
			    $i, fmt($off), $drop);
		}
		push @md, "- $raw: " . join('; ', @parts) if @parts;
	}
	push @md, '', 'Limits: ' . join('; ', map { "$_->[5]: $_->[6]" }
		@metrics[0, 1, 6]) . '; memcpy: single-thread memcpy() of ' .
		'64 KiB blocks through 64 MiB buffers.', '';

	# The plot
	my $base = "$dir/bench-$kver";
	open(my $dfh, '>', "$base.dat") or die "$base.dat: $!\n";
	print $dfh join("\n", @dat), "\n";
	close($dfh);
	my $gp = gnuplot_script($base, $kver, $accel, $cpu, $hcpu, \@panels);
	open(my $gfh, '>', "$base.gp") or die "$base.gp: $!\n";
	print $gfh $gp;
	close($gfh);
	system('gnuplot', "$base.gp") == 0 or die "report: gnuplot $base.gp failed\n";
	push @written, "$base.png";
}

sub fmt2 {
	my ($v) = @_;
	return '' unless defined $v;
	return sprintf('%.6g', $v);
}

sub gnuplot_script {
	my ($base, $kver, $accel, $cpu, $hcpu, $panels) = @_;
	my $cols = int((@$panels + 1) / 2) || 1;
	my $s = <<"EOF";
# Generated by tools/bench/report.pl
set terminal pngcairo size 1800,1000 font "sans,11"
set output '$base.png'
set multiplot layout 2,$cols title "vhnet vs in-tree vhost-net vs userspace loop, with the limit -- kernel $kver -- $accel, guest CPU: $cpu (host: $hcpu)\\n$accel distorts absolute numbers: compare the bars within a panel. Bars: median; whiskers: min-max over the rounds." font "sans,13"
set style fill solid 0.75 border -1
set boxwidth 0.65
set style data boxerrorbars
set errorbars small
unset key
set grid ytics
set yrange [0:*]
set xtics nomirror scale 0 font "sans,10"
set ytics font "sans,10"
set offsets 0.5, 0.5, 0, 0
EOF
	for my $i (0 .. $#$panels) {
		# Latencies spread over decades under TCG: a log scale.
		my $log = $panels->[$i] =~ /\(us\)/;
		$s .= $log ? "set logscale y\nset yrange [1:*]\n" :
			     "unset logscale y\nset yrange [0:*]\n";
		$s .= "set title \"$panels->[$i]" . ($log ? ', log scale' : '') .
		      "\"\n";
		$s .= "plot '$base.dat' index $i using 0:2:3:4:(0.65):5:xtic(1) " .
		      "lc rgb variable, '' index $i using 0:4:6 " .
		      "with labels offset 0,0.8 font 'sans,9'\n";
	}
	$s .= "unset multiplot\n";
	return $s;
}

open(my $rfh, '>', "$dir/raw.csv") or die "$dir/raw.csv: $!\n";
print $rfh join("\n", $raw_header, @raw_lines), "\n";
close($rfh);
open(my $cfh, '>', "$dir/results.csv") or die "$dir/results.csv: $!\n";
print $cfh join("\n", @csv), "\n";
close($cfh);
open(my $mfh, '>', "$dir/results.md") or die "$dir/results.md: $!\n";
print $mfh join("\n", @md), "\n";
close($mfh);
print "$_\n" for ("$dir/results.md", "$dir/results.csv", "$dir/raw.csv",
		 @written);
