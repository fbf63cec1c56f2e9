"""One module per `donkit` command: each adds its parser (`add_parser`) and runs it (`run`);
a training command also says how to continue when it is interrupted (`interrupted`), and a
command that runs networks says so (`USES_TORCH = True`).

A command parses its options, loads the typed config and calls its stage; it holds no
algorithm. Options that are config keys say so in their help, and the same option means the same
thing in every command (donkit/options.py defines the shared ones).
"""

from donkit.commands import (
    check,
    collect,
    config,
    correspond,
    demo,
    depth,
    evaluate,
    fuse,
    import_data,
    sim_video,
    track,
    train,
    visualize,
)

# In the order `donkit --help` lists them: the pipeline's, then the tools'.
_ORDER = (
    collect, fuse, correspond, train, evaluate, visualize, depth, sim_video, track, check,
    import_data,
)  # fmt: skip
COMMANDS = {module.NAME: module for module in (*_ORDER, config, demo)}
