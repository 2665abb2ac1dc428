#!/usr/bin/perl
# Oracle for test_dmarc_oracles.py: Mail::DMARC::PurePerl's evaluation of
# one message's identifiers per input line ("FROM SPF|- [DKIM...]", each
# identifier having passed), its DNS sent to 127.0.0.1:PORT. Prints
# "result=R policy=P apply=A" per line, the shape dmarc_eval prints.
use strict;
use warnings;
use Mail::DMARC::PurePerl;
use Net::DNS::Resolver;

my $port = shift or die "usage: $0 PORT\n";
my $res = Net::DNS::Resolver->new(nameservers => ['127.0.0.1'], port => $port,
                                  dnsrch => 0, defnames => 0, retry => 1,
                                  udp_timeout => 3, tcp_timeout => 3);
$| = 1;
while (my $line = <STDIN>) {
    chomp $line;
    my ($from, $spf, @dkim) = split ' ', $line;
    my $d = Mail::DMARC::PurePerl->new;
    $d->set_resolver($res);
    $d->source_ip('192.0.2.1');
    $d->envelope_to('example.com');
    $d->header_from($from);
    $d->spf($spf eq '-' ? { domain => $from, scope => 'mfrom', result => 'fail' }
                        : { domain => $spf, scope => 'mfrom', result => 'pass' });
    $d->dkim([ map { { domain => $_, selector => 's', result => 'pass' } } @dkim ]);
    my $r = $d->validate;
    my $pub = eval { $r->published };
    my $policy = '-';
    if ($pub && ($r->result eq 'pass' || $r->result eq 'fail')) {
        $policy = $d->is_subdomain && defined $pub->sp ? $pub->sp : $pub->p;
    }
    printf "result=%s policy=%s apply=%s\n", $r->result, lc($policy // '-'),
        lc $r->disposition;    # it echoes p='s case ("REJECT")
}
