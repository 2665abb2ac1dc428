#!/usr/bin/perl
# Mail::DKIM's ARC verifier as an oracle: arc_mail_dkim.pl KEYS.json MSG...
# prints "FILE RESULT" per message; the keys (TXT name => record) replace
# DNS so that no server is needed.
use strict;
use warnings;
use JSON::PP;
use Mail::DKIM::ARC::Verifier;
use Mail::DKIM::DNS;
use Net::DNS;

my $keys = do {
    local $/;
    open my $fh, '<', shift @ARGV or die "keys: $!";
    decode_json(<$fh>);
};

no warnings 'redefine';
*Mail::DKIM::DNS::query = sub {
    my ($name, $type) = @_;
    my $rec = $keys->{lc $name};
    $@ = defined $rec ? 'NOERROR' : 'NXDOMAIN';
    return () unless defined $rec;
    my @parts = ($rec =~ /(.{1,250})/gs);
    return Net::DNS::RR->new(name => $name, type => 'TXT', txtdata => [@parts]);
};

for my $file (@ARGV) {
    open my $fh, '<:raw', $file or die "$file: $!";
    my $arc = Mail::DKIM::ARC::Verifier->new(Strict => 1);
    while (<$fh>) {
        s/\r?\n\z/\r\n/;
        $arc->PRINT($_);
    }
    $arc->CLOSE;
    print "$file ", $arc->result, "\n";
}
