# WWM.pm -- the World-Wide-Mind file protocol for Perl 5 (core modules only).
#
# Usage (a Mind; the server folder holds a symlink WWM.pm -> ../../wwm/lib/WWM.pm):
#   use FindBin; use lib ($ENV{WWM_SERVER_DIR} || $FindBin::Bin);
#   use WWM;
#   WWM::serve_mind(sub {
#       my ($state) = @_;  return "50\n";
#   });
#
# A World:
#   WWM::serve_world(
#       reset => sub { my ($seed) = @_; ...; return $first_state },
#       step  => sub { my ($action) = @_; ...; return ($state, $reward, $done) },
#       score => sub { return "$hits\nsteps: $steps\n" });
# The helper adds the reward to the state (a first line "reward: R" for text, a
# first child <reward>R</reward> for XML) and writes score, then done, then state.
#
# API (names are files in the working directory = the run directory):
#   WWM::wait_for($name)      block until $name exists; exit 0 once `stop` exists
#   WWM::take($name)          read the file (bytes) and delete it; undef if absent
#   WWM::put($name, $text)    write $name.tmp, then rename it to $name
#   WWM::parse_int($text)     the integer (optional sign, digits, surrounding
#                             whitespace, |n| < 10^9), or undef
#
# Waiting: polling with Time::HiRes sleeps of 0.25 ms doubling to 10 ms (core Perl
# has no inotify; a sleep is a cheap select(), no fork). SIGTERM, SIGINT, SIGHUP exit 0.
package WWM;
use strict;
use warnings;
use Time::HiRes ();

our $VERSION = '1';

$SIG{$_} = sub { exit 0 } for qw(TERM INT HUP);

sub wait_for {
    my ($name) = @_;
    my $nap = 0.00025;
    for (;;) {
        exit 0 if -e 'stop';
        return 1 if -e $name;
        Time::HiRes::sleep($nap);
        if ($nap < 0.01) { $nap = $nap * 2 < 0.01 ? $nap * 2 : 0.01 }
        elsif (!(stat '.')[3]) { exit 0 }   # idle, and the run directory is gone
    }
}

sub take {
    my ($name) = @_;
    open my $fh, '<:raw', $name or return undef;
    local $/;
    my $text = <$fh>;
    close $fh;
    unlink $name;
    return defined $text ? $text : '';
}

sub put {
    my ($name, $text) = @_;
    open my $fh, '>:raw', "$name.tmp" or die "wwm: $name.tmp: $!\n";
    print {$fh} $text;
    close $fh or die "wwm: $name.tmp: $!\n";
    rename "$name.tmp", $name or die "wwm: rename $name.tmp: $!\n";
}

sub parse_int {
    my ($text) = @_;
    # explicit ASCII whitespace: \s would also match other characters
    return undef unless defined $text && $text =~ /\A[ \t\n\r\f\x0b]*([-+]?)0*([0-9]+)[ \t\n\r\f\x0b]*\z/;
    my ($sign, $digits) = ($1, $2);
    return undef if length $digits > 9;
    return $sign eq '-' ? -$digits : 0 + $digits;
}

sub serve_mind {
    my ($act) = @_;
    for (;;) {
        wait_for('state');
        my $state = take('state');
        next unless defined $state;
        my $action = $act->($state);
        $action = '' unless defined $action;
        $action .= "\n" unless $action =~ /\n\z/;
        put('action', $action);
    }
}

# "reward: R" line for text; <reward>R</reward> after the root's start tag for XML.
sub _with_reward {
    my ($state, $reward) = @_;
    return "reward: $reward\n$state" unless $state =~ /\A</;
    return $state if $state =~ s{\A(<([^\s/>]+)[^>]*?)/>}{$1><reward>$reward</reward></$2>};
    $state =~ s{\A([^>]*>)}{$1<reward>$reward</reward>};
    return $state;
}

sub serve_world {
    my %w = @_;
    my $seed = parse_int(defined $ENV{WWM_SEED} ? $ENV{WWM_SEED} : 1);
    $seed = 1 unless defined $seed;
    my $first = $w{reset}->($seed);
    put('score', $w{score}->());
    put('state', defined $first ? $first : '');   # state last: score is already current
    for (;;) {
        wait_for('action');
        my $action = take('action');
        next unless defined $action;
        my ($state, $reward, $done) = $w{step}->($action);
        $state = '' unless defined $state;
        $state = _with_reward($state, 0 + $reward) if defined $reward;
        put('score', $w{score}->());
        put('done', "1\n") if $done;
        put('state', $state);
    }
}

1;
