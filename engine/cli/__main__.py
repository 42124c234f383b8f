"""``python -m engine.cli``: the zjtx command."""
from engine.cli import main

main()
