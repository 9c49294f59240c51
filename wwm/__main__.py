"""Allow ``python -m wwm``."""
from wwm.cli import main

main()
