# hello World in Perl: guess the number (docs/protocol.md, "The hello game").
use strict;
use warnings;
use FindBin;
use lib ($ENV{WWM_SERVER_DIR} || $FindBin::Bin);
use WWM;

my ($x, $secret, $low, $high, $hits, $steps) = (1, 0, 1, 100, 0, 0);

sub new_secret {
    $x = ($x * 75 + 74) % 65537;
    $secret = $x % 100 + 1;
}

sub show { "low: $low\nhigh: $high\n" }

WWM::serve_world(
    reset => sub {
        my ($seed) = @_;
        $x = $seed % 65537;    # Perl's % already gives a non-negative result here
        new_secret();
        return show();
    },
    step => sub {
        my ($action) = @_;
        $steps++;
        my $guess = WWM::parse_int($action);
        my $reward = 0;
        if (!defined $guess) {
            $reward = -1;    # not an integer: state unchanged
        } elsif ($guess == $secret) {
            ($reward, $low, $high) = (1, 1, 100);
            $hits++;
            new_secret();
        } elsif ($guess < $secret) {
            $low = $guess + 1;
        } else {
            $high = $guess - 1;
        }
        return (show(), $reward, 0);
    },
    score => sub { "$hits\nsteps: $steps\n" },
);
