# hello Mind in Perl: binary search for the hello World's secret number.
# State lines "low: L" and "high: H" (defaults 1 and 100); action: (L+H) floor-div 2.
use strict;
use warnings;
use FindBin;
use lib ($ENV{WWM_SERVER_DIR} || $FindBin::Bin);
use POSIX ();
use WWM;

WWM::serve_mind(sub {
    my ($state) = @_;
    my %v = (low => 1, high => 100);
    for my $line (split /\n/, $state) {
        next unless $line =~ /\A(low|high):(.*)\z/s;
        my $n = WWM::parse_int($2);
        $v{$1} = $n if defined $n;
    }
    return POSIX::floor(($v{low} + $v{high}) / 2) . "\n";
});
