"""The flags a command line names, told apart from defaults through argparse's public API."""

from trainables.errors import ArgumentParser, given_flags


def test_given_flags_are_the_named_ones_even_at_their_default_value():
    parser = ArgumentParser(prog="x")
    parser.add_argument("--epochs", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ensemble", action="store_true")
    parser.add_argument("--mlflow", nargs="?", const="beside")
    assert given_flags(parser, []) == set()
    assert given_flags(parser, ["--epochs", "16", "--mlflow"]) == {"epochs", "mlflow"}
    assert given_flags(parser, ["--seed=3", "--ensemble"]) == {"seed", "ensemble"}


def test_the_sweep_parser_names_what_was_given():
    from sweeps.sweep.definition import CNN
    from sweeps.sweep.tuner import build_parser

    parser = build_parser(CNN)
    assert given_flags(parser, ["--max-epochs", "16", "--tta", "5", "--resume"]) == {"max_epochs", "tta", "resume"}
