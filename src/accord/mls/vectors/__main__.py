"""``python -m accord.mls.vectors FILE...``: the same as ``accord vectors``."""

from accord.cli.vectors_cmd import vectors

if __name__ == "__main__":
    vectors(prog_name="python -m accord.mls.vectors")
