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
#   ratios.txt         the ratio lines (below)
# and the same for the real guests of OUT/results/real-raw.csv
# (tools/bench/real-guest.sh), if any. Prints the paths it wrote, then one
# line per metric and comparison, last:
#   ratio vhnet/in-tree tx64 1.42 [1.31, 1.55] win kernel=K rounds=N
# the median of the per-round ratios and its 95 % bootstrap confidence
# interval; "win" or "loss" only if the interval excludes 1 (for latencies
# and CPU per packet, lower is better), else "parity"; fewer than
# $min_rounds rounds: "too-few-rounds".
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
	(map {
		my ($d, $n) = @$_;
		["scale$d$n", "scale$d$n", 'pps', 1e-3, 'kpps',
		 uc($d) . " 64 B, $n device" . ($n > 1 ? 's' : '') .
		 ' at once, sum', 'none']
	} (['tx', 1], ['tx', 8], ['tx', 64], ['rx', 1], ['rx', 8], ['rx', 64])),
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

my $min_rounds = 5;
my $boot_n = 2000;

# Per-round ratios NUM/DEN (hashes round => value) over the rounds both
# have: (median, CI low, CI high, rounds); a bootstrap of the median,
# seeded and over the rounds in order, so that a report is reproducible.
sub ratio_ci {
	my ($num, $den) = @_;
	my @r = map { $num->{$_} / $den->{$_} }
		grep { defined $den->{$_} && $den->{$_} != 0 }
		sort { $a <=> $b } keys %$num;	# Perl's hash order varies by run
	return (undef, undef, undef, 0) unless @r;
	srand(1);
	my @meds;
	for (1 .. $boot_n) {
		push @meds, median(map { $r[int(rand(@r))] } @r);
	}
	@meds = sort { $a <=> $b } @meds;
	return (median(@r), $meds[int(0.025 * $boot_n)],
		$meds[int(0.975 * $boot_n) - 1], scalar @r);
}

sub verdict {
	my ($lo, $hi, $n, $lower_better) = @_;
	return 'n/a' unless defined $lo;
	return 'too-few-rounds' if $n < $min_rounds;
	return $lower_better ? 'win' : 'loss' if $hi < 1;
	return $lower_better ? 'loss' : 'win' if $lo > 1;
	return 'parity';
}

my @ratio_lines;

# The table cell of a ratio; records its ratio line.
sub ratio_cell {
	my ($what, $metric, $kver, $num, $den, $lower_better) = @_;
	my ($m, $lo, $hi, $n) = ratio_ci($num, $den);
	return 'n/a' unless defined $m;
	my $v = verdict($lo, $hi, $n, $lower_better);
	push @ratio_lines, sprintf('ratio %s %s %.2f [%.2f, %.2f] %s kernel=%s rounds=%d',
	    $what, $metric, $m, $lo, $hi, $v, $kver, $n);
	return sprintf('%.2f [%.2f, %.2f] %s', $m, $lo, $hi, $v);
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
		'memcpy_gbps', 'vhnet_over_vhost_net', 'vhnet_over_vhost_net_ci_lo',
		'vhnet_over_vhost_net_ci_hi', 'vhnet_over_userspace',
		'vhnet_over_userspace_ci_lo', 'vhnet_over_userspace_ci_hi');
my $date = strftime('%Y-%m-%d %H:%M UTC', gmtime);
push @md, "# vhnet benchmark ($date)", '';
my @written;

# --- Real guests (tools/bench/real-guest.sh) --------------------------
# metric => [raw metric, column, unit, title, lower is better, CPU row]
my @real_metrics = (
	['guest-tcp-h2g', 'tcp-h2g', 'value', 'Gbit/s', 'TCP VM to guest, 1 stream', 0, 1],
	['guest-tcp-g2h', 'tcp-g2h', 'value', 'Gbit/s', 'TCP guest to VM, 1 stream', 0, 1],
	['guest-tcp4-h2g', 'tcp4-h2g', 'value', 'Gbit/s', 'TCP VM to guest, 4 streams, 2 queues', 0, 1],
	['guest-tcp4-g2h', 'tcp4-g2h', 'value', 'Gbit/s', 'TCP guest to VM, 4 streams, 2 queues', 0, 1],
	['guest-udp64-h2g', 'udp64-h2g', 'value', 'kpps', 'UDP 64 B VM to guest, received', 0, 1],
	['guest-udp64-g2h', 'udp64-g2h', 'value', 'kpps', 'UDP 64 B guest to VM, received', 0, 1],
	['guest-rr-p50', 'rr', 'value', 'us', 'UDP ping-pong 64 B, p50', 1, 1],
	['guest-rr-p99', 'rr', 'value2', 'us', 'UDP ping-pong 64 B, p99', 1, 0],
	['guest-rrbp-p50', 'rrbp', 'value', 'us', 'ping-pong p50, device busy polling 50 us', 1, 1],
	['guest-rrbp-p99', 'rrbp', 'value2', 'us', 'ping-pong p99, device busy polling 50 us', 1, 0],
);
my (@real_md, @scale_md);

sub cell {
	my @v = @_;
	return 'n/a' unless @v;
	my ($lo, $hi) = minmax(@v);
	return fmt(median(@v)) . ' (' . fmt($lo) . '-' . fmt($hi) . ')';
}

sub real_section {
	my ($out) = @_;
	my $file = "$out/results/real-raw.csv";
	open(my $fh, '<', $file) or return;
	my $hdr = <$fh>;
	return unless defined $hdr;
	chomp $hdr;
	my @cols = split /,/, $hdr;
	my (%by, $kver, %accel);
	while (my $line = <$fh>) {
		chomp $line;
		next unless $line;
		my %r;
		@r{@cols} = split /,/, $line, -1;
		$kver = $r{kernel};
		$accel{$r{accel}} = 1;
		my $i = $r{impl} eq 'user' ? 'userspace' : $r{impl};
		for my $c ('value', 'value2', 'worker_ns_per_pkt', 'guest_irq_per_s') {
			$by{$r{metric}}{$c}{$i}{$r{round}} = $r{$c}
				if defined $r{$c} && $r{$c} ne '';
		}
	}
	close($fh);
	return unless $kver;
	push @real_md, "## Real guests, kernel $kver", '',
		'A Debian guest (its own virtio_net) under nested ' .
		join('/', map { uc } sort keys %accel) . ' in the benchmark VM, ' .
		'2 vCPUs, 2 queue pairs; iperf3 and sockperf servers in the guest, ' .
		'the clients in the VM. vhost=off is QEMU\'s own virtio-net. ' .
		'Cells: median (min-max) over the rounds; ratios: median of the ' .
		'per-round ratios [95 % bootstrap interval] and the verdict. ' .
		'Worker CPU: ns of the device threads (vhnet-PID, vhost-PID) per ' .
		'packet through the tap. Guest interrupts: its virtio-net ' .
		'vectors per second.', '',
		'| metric | unit | vhnet | in-tree vhost-net | vhost=off | vhnet / in-tree | vhnet / vhost=off | worker ns/pkt vhnet | worker ns/pkt in-tree | CPU vhnet / in-tree | guest irq/s vhnet | in-tree | vhost=off |',
		'|---|---|---|---|---|---|---|---|---|---|---|---|---|';
	for my $m (@real_metrics) {
		my ($name, $raw, $col, $unit, $title, $lower, $cpu) = @$m;
		my $v = $by{$raw}{$col} // {};
		next unless %$v;
		my @c = map { cell(values %{$v->{$_} // {}}) }
			('vhnet', 'vhost-net', 'userspace');
		push @c, ratio_cell('vhnet/in-tree', $name, $kver,
		    $v->{vhnet} // {}, $v->{'vhost-net'} // {}, $lower);
		push @c, ratio_cell('vhnet/vhost-off', $name, $kver,
		    $v->{vhnet} // {}, $v->{userspace} // {}, $lower);
		my $w = $by{$raw}{worker_ns_per_pkt} // {};
		my $q = $by{$raw}{guest_irq_per_s} // {};
		if ($cpu) {
			push @c, map { cell(values %{$w->{$_} // {}}) } ('vhnet', 'vhost-net');
			(my $cname = $name) =~ s/-p50$//;
			push @c, ratio_cell('vhnet/in-tree', "$cname-cpu", $kver,
			    $w->{vhnet} // {}, $w->{'vhost-net'} // {}, 1);
			push @c, map { cell(values %{$q->{$_} // {}}) }
				('vhnet', 'vhost-net', 'userspace');
		} else {
			push @c, ('') x 6;
		}
		push @real_md, "| $title | $unit | " . join(' | ', @c) . ' |';
		push @csv, join(',', $kver, $name, $unit,
			(map {
				my @x = values %{$v->{$_} // {}};
				my ($lo, $hi) = minmax(@x);
				(fmt2(median(@x)), fmt2($lo), fmt2($hi), scalar @x)
			} @impls), '',
			map {
				my ($r, $lo, $hi) = ratio_ci($v->{vhnet} // {}, $v->{$_} // {});
				(fmt2($r), fmt2($lo), fmt2($hi))
			} ('vhost-net', 'userspace'));
	}
	if (open(my $rs, '<', "$out/results/real-restarts")) {
		chomp(my @r = <$rs>);
		close($rs);
		push @real_md, '', 'Guests restarted after their QEMU died ' .
			'(nested KVM under TCG; the run was then repeated once): ' .
			join('; ', @r) . '.' if @r;
	}
	push @real_md, '';
}


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
			for grep { defined $r{$_} && $r{$_} ne '' }
			    qw(pps gbps p50_us p99_us dev_ns min_pps max_pps mem_kb);
		push @{$offered{$r{metric}}{$r{impl}}}, [$r{pps}, $r{offered},
		    $r{dropped}, $r{seconds}] if $r{offered};
	}
	close($fh);
	real_section($out);
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
		'the per-round ratios (rounds are interleaved) [95 % bootstrap ' .
		'confidence interval] and the verdict: win or loss only if the ' .
		'interval excludes 1.',
		'',
		'| metric | unit | vhnet | in-tree vhost-net | userspace loop | limit | vhnet / in-tree | vhnet / userspace | device CPU ns/frame vhnet | in-tree | userspace | CPU vhnet / in-tree |',
		'|---|---|---|---|---|---|---|---|---|---|---|---|';

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
		my (@ratio, @rcells);
		my $lower = $col =~ /_us$/;
		for my $o ('vhost-net', 'userspace') {
			my $what = $o eq 'vhost-net' ? 'vhnet/in-tree' : 'vhnet/userspace';
			push @rcells, ratio_cell($what, $name, $kver,
			    $byround{vhnet}, $byround{$o} // {}, $lower);
			push @ratio, [ratio_ci($byround{vhnet}, $byround{$o} // {})];
		}
		my @cells = map {
			defined $med{$_} ? fmt($med{$_}) . ' (' . fmt($lo{$_}) .
			'-' . fmt($hi{$_}) . ')' : 'n/a'
		} @impls;
		# A limit that an implementation beats bounds nothing.
		if (defined $med{limit}) {
			my @beat = grep {
				defined $med{$_} && ($lower ? $med{$_} < $med{limit} :
						     $med{$_} > $med{limit})
			} ('vhnet', 'vhost-net', 'userspace');
			$cells[3] .= ' **invalid: beaten by ' . join(', ', @beat) .
				'**' if @beat;
			push @ratio_lines, "limit-invalid $name kernel=$kver beaten-by=" .
				join(',', @beat) if @beat;
		}
		# Device CPU per frame (not again for the p99 rows).
		my @ccells = ('') x 4;
		if ($name !~ /99/) {
			my (%cr);
			for my $i ('vhnet', 'vhost-net', 'userspace') {
				$cr{$i}{$_->[0]} = $_->[1]
					for @{$val{$raw}{$i}{dev_ns} // []};
			}
			(my $cname = $name) =~ s/^rtt50/rtt/;
			@ccells = ((map { cell(values %{$cr{$_}}) }
				    ('vhnet', 'vhost-net', 'userspace')),
				   ratio_cell('vhnet/in-tree', "$cname-cpu", $kver,
				       $cr{vhnet}, $cr{'vhost-net'}, 1));
		}
		push @md, "| $title | $unit | " . join(' | ', @cells, @rcells,
			@ccells) . ' |';
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
	# Many devices: fairness and kernel memory per device.
	my @scale = grep { $val{$_->[1]} && $_->[0] =~ /^scale/ } @metrics;
	push @scale_md, '', 'Many devices at once (64 B frames, a fake guest ' .
		'and tap per device, each in its own process): fairness is the ' .
		'median over the rounds of min/max pps per device; memory is ' .
		'kernel memory (settled Slab + VmallocUsed + PageTables) per ' .
		'device, the fake guest processes\' own included.', '',
		'| metric | fairness vhnet | fairness in-tree | kB/device vhnet | kB/device in-tree | memory vhnet / in-tree |',
		'|---|---|---|---|---|---|' if @scale;
	for my $m (@scale) {
		my ($name, $raw, $title) = ($m->[0], $m->[1], $m->[5]);
		my (%fair, %mem);
		for my $i ('vhnet', 'vhost-net') {
			my %mx = map { @$_ } @{$val{$raw}{$i}{max_pps} // []};
			for (@{$val{$raw}{$i}{min_pps} // []}) {
				my ($rd, $v) = @$_;
				$fair{$i}{$rd} = $v / $mx{$rd} if $mx{$rd};
			}
			$mem{$i}{$_->[0]} = $_->[1] for @{$val{$raw}{$i}{mem_kb} // []};
		}
		push @scale_md, "| $title | " . join(' | ',
			(map { cell(values %{$fair{$_}}) } ('vhnet', 'vhost-net')),
			(map { cell(values %{$mem{$_}}) } ('vhnet', 'vhost-net')),
			ratio_cell('vhnet/in-tree', "$name-mem", $kver, $mem{vhnet} // {},
			    $mem{'vhost-net'} // {}, 1)) . ' |';
	}
	push @md, "| memcpy, 1 thread, 64 KiB blocks | Gbit/s | | | | " .
		(defined $memcpy ? fmt($memcpy) . ' (' . fmt($mcmin) . '-' .
		 fmt($mcmax) . ')' : 'n/a') . ' | | |';
	push @csv, join(',', $kver, 'memcpy', 'Gbit/s', ('') x 12,
			fmt2($memcpy), 'n/a', '', '', '', '', ''), if 0;

	push @md, @scale_md;
	@scale_md = ();

	# vhnet's ring options (packed, in order) beside split, same rounds.
	my @opt = ('vhnet-packed', 'vhnet-in-order');
	my @pk = grep { my $m = $_; grep { @{$val{$m->[1]}{$_}{$m->[2]} // []} } @opt }
		@metrics;
	push @md, '', 'Ring options: vhnet with the fake guest driving packed ' .
		'rings (VIRTIO_F_RING_PACKED), and split rings with ' .
		'VIRTIO_F_IN_ORDER, beside plain split rings in the same ' .
		'interleaved rounds.', '',
		'| metric | unit | vhnet split | packed | in order | packed / split | in order / split | device CPU ns/frame split | packed | in order |',
		'|---|---|---|---|---|---|---|---|---|---|' if @pk;
	for my $m (@pk) {
		my ($name, $raw, $col, $scale, $unit, $title) = @$m;
		my (%by, %cpu);
		for my $i ('vhnet', @opt) {
			$by{$i}{$_->[0]} = $_->[1] * $scale
				for @{$val{$raw}{$i}{$col} // []};
			$cpu{$i}{$_->[0]} = $_->[1]
				for @{$val{$raw}{$i}{dev_ns} // []};
		}
		push @md, "| $title | $unit | " . join(' | ',
			(map { cell(values %{$by{$_}}) } ('vhnet', @opt)),
			(map { ratio_cell("$_/vhnet", $name, $kver, $by{$_}, $by{vhnet},
			    $col =~ /_us$/) } @opt),
			map { cell(values %{$cpu{$_}}) } ('vhnet', @opt)) . ' |';
	}

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
print $mfh join("\n", @md, @real_md), "\n";
close($mfh);
open(my $rafh, '>', "$dir/ratios.txt") or die "$dir/ratios.txt: $!\n";
print $rafh map { "$_\n" } @ratio_lines;
close($rafh);
print "$_\n" for ("$dir/results.md", "$dir/results.csv", "$dir/raw.csv",
		 "$dir/ratios.txt", @written, @ratio_lines);
