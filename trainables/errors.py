"""The one error type a user can act on, and the one way every command reports it.

Bad input data, a bad flag, a path that cannot be used: every command catches
``UserError`` and prints its message as one line, exit status 2, before it has
written anything. Anything else is a bug and keeps its traceback.
"""

import argparse
import sys


class UserError(ValueError):
    """Input a user gave that cannot be used; the message names the file, line, column or flag."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but a bad flag is one line (argparse prints the whole usage first)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """--help with each flag's default, but not where there is none to show (None, a switch's
    False) or where the flag's help already says what its default is."""

    # argparse documents only the formatter classes' names; _get_help_string is the hook
    # ArgumentDefaultsHelpFormatter itself overrides (Python 3.10-3.13).
    def _get_help_string(self, action):
        if action.default is None or action.default is False or "default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


def report(prog, error):
    """Print a UserError as the one line a user sees; the exit status to return."""
    print(f"{prog}: error: {error}", file=sys.stderr)
    return 2


def given_flags(parser, argv):
    """The destinations of the flags the command line names, as opposed to defaults.

    argparse fills in a default only where the namespace it is given has no value yet (its
    documented ``namespace=`` argument), so every destination starts as a marker and the ones still
    holding it were not given. (For a parser without required arguments or "append" actions.)"""
    unset = object()
    every = vars(parser.parse_args([]))
    parsed = parser.parse_args(argv, namespace=argparse.Namespace(**{dest: unset for dest in every}))
    return {dest for dest, value in vars(parsed).items() if value is not unset}
