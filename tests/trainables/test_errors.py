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
    from sweeps.sweep.flags import build_parser

    parser = build_parser(CNN)
    assert given_flags(parser, ["--max-epochs", "16", "--tta", "5", "--resume"]) == {"max_epochs", "tta", "resume"}


def test_help_shows_a_default_only_where_there_is_one_and_once():
    from sweeps.sweep.definition import CNN
    from sweeps.sweep.flags import build_parser

    text = " ".join(build_parser(CNN).format_help().split())  # argparse wraps lines at the terminal's width
    assert "validation share, used by the search (default: 0.15)" in text
    assert "(default: None)" not in text and "(default: False)" not in text
    # --max-concurrent's help says its default in words; argparse's own would follow it
    assert "most trials at once (default: as many as resources allow) " in text + " "
    assert text.count("(default: 0.15)") == 2  # --val-fraction and --test-fraction, each once
