"""One module per ``colorbench`` sub-command. Each defines ``HELP`` (one line), ``add_arguments(parser)`` and
``run(args) -> int``; :mod:`colorbench.cli` lists them in :data:`colorbench.cli.COMMANDS`."""
