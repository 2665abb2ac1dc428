#!/usr/bin/perl
# Oracle for test_dmarc_report.py: Mail::DMARC's receiver of aggregate
# reports (Mail::DMARC::Report::Receive->from_email_simple: MIME parts,
# gunzip, XML through XPath, its own checks of each field) reads one
# report message from FILE and prints what it understood as JSON. Its
# report store is replaced by the printing: nothing is written anywhere.
use strict;
use warnings;
use Email::Simple;
use JSON::PP;
use Mail::DMARC::Report::Receive;

my $file = shift or die "usage: $0 FILE\n";
open my $fh, '<', $file or die "$file: $!\n";
my $text = do { local $/; <$fh> };

my $out;
{
    no warnings 'redefine';
    *Mail::DMARC::Report::save_aggregate = sub {
        my $agg = $_[0]->aggregate;
        my $meta = $agg->metadata;
        my $pol = $agg->policy_published;
        my @recs;
        for my $r (@{ $agg->record }) {
            my $pe = $r->row->policy_evaluated;
            push @recs, {
                source_ip => $r->row->source_ip,
                count => 0 + $r->row->count,
                disposition => $pe->disposition,
                dkim => $pe->dkim,
                spf => $pe->spf,
                reasons => [ map { $_->{type} } @{ $pe->reason || [] } ],
                header_from => $r->identifiers->header_from,
                envelope_from => $r->identifiers->envelope_from,
                auth_spf => [ map { { domain => $_->domain, scope => $_->scope,
                                      result => $_->result } } @{ $r->auth_results->spf || [] } ],
                auth_dkim => [ map { { domain => $_->domain, selector => $_->selector,
                                       result => $_->result } } @{ $r->auth_results->dkim || [] } ],
            };
        }
        $out = {
            org_name => $meta->org_name, email => $meta->email,
            report_id => $meta->report_id, begin => 0 + $meta->begin,
            end => 0 + $meta->end,
            domain => $pol->domain, p => $pol->p, sp => $pol->sp,
            pct => 0 + $pol->pct, adkim => $pol->adkim, aspf => $pol->aspf,
            records => \@recs,
        };
        return 1;
    };
}
my $type = Mail::DMARC::Report::Receive->new->from_email_simple(Email::Simple->new($text));
die "not read as an aggregate report\n" unless ($type // '') eq 'aggregate' && $out;
$out->{type} = $type;
print JSON::PP->new->canonical->encode($out), "\n";
