"""`donkit evaluate`: a trained run's descriptors on held-out scenes, against baselines."""

from __future__ import annotations

import argparse
from pathlib import Path

from descriptors.config import EvaluateConfig
from donkit.options import (
    add_command,
    add_config_options,
    add_device_option,
    set_from_options,
    trained_run_config,
)
from donkit.summaries import evaluation_lines

NAME = "evaluate"
USES_TORCH = True  # the command line sets up torch's CPU threads for it (donkit/cli.py)
OPTION_KEYS = {"pairs": "evaluate.pairs", "matches": "evaluate.matches", "seed": "evaluate.seed"}


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = add_command(
        commands,
        NAME,
        "measure a trained run's descriptors on held-out scenes, against baselines",
        """\
        Dense Object Nets' evaluation: on pairs of views of the fused held-out scenes under
        DATA, the best match of each true match's pixel of A is the pixel of B with the
        nearest descriptor (searched over all of B). Reports its pixel error (median, mean,
        90th percentile, shares within 5/10/20 px, area under the PCK curve to 20 px), its
        3D error through B's rendered depth, and the share of B's object pixels nearer than
        the true match, for the run's network ("donkit"), dense SIFT ("sift") and the same
        network untrained ("random_init"), on the same pairs, overall and by pair kind
        (same object, multi-object). Pairs of different objects have no true matches: for
        them, the share of points whose best match on the other object is nearer than the
        median true match. Writes RUN/eval/metrics.json and RUN/eval/cdf.png (the share of
        matches within each pixel error, per method). The run's own config (its pair
        policy, its `evaluate` section) is used; --set changes it for this evaluation.

        Best matches are refined to sub-pixel (a parabola through the squared descriptor
        distances around the best pixel) and measured against the exact projection of the
        true point.

        --breakdown adds each method's error decomposition (under "breakdown" in
        metrics.json; the trained network's is printed): how often the best match lies on
        the right object (the simulator's segmentation, or else the connected parts of the
        fused mask) and its median error there and elsewhere; how often the true match is
        nearer in descriptor space than every pixel more than 5 px from it, with the median
        distances to both; and median error, share within 5 px and right-object share by
        object, by viewpoint change (the angle at the 3D point between its rays to the two
        cameras) and by the true match's distance to its object's silhouette. Run it on the
        training scenes too (--data TRAIN): a gap between both says how much is
        generalization.""",
    )
    parser.add_argument("run", type=Path, metavar="RUN", help="a `donkit train` run folder")
    parser.add_argument("--data", type=Path, required=True, metavar="DATA", help="held-out scenes")
    defaults = EvaluateConfig()
    parser.add_argument(
        "--pairs", type=int, metavar="N", help=f"pairs (evaluate.pairs; default {defaults.pairs})"
    )
    parser.add_argument(
        "--matches",
        type=int,
        metavar="M",
        help=f"matches per pair (evaluate.matches; default {defaults.matches})",
    )
    parser.add_argument(
        "--seed", type=int, help=f"seed of the pairs (evaluate.seed; default {defaults.seed})"
    )
    parser.add_argument(
        "--breakdown",
        action="store_true",
        help="add the error decomposition (by object, viewpoint change, distance to the "
        "silhouette; right-object share; descriptor-distance gap)",
    )
    add_config_options(parser, "evaluate.pairs=30", with_file=False)
    add_device_option(parser)


def run(args: argparse.Namespace) -> None:
    from descriptors.evaluate import evaluate_run

    overrides = set_from_options(args, OPTION_KEYS)
    config = trained_run_config(args.run, overrides, "descriptors", "donkit evaluate")
    results = evaluate_run(
        args.run,
        args.data,
        config.correspond,
        config.train,
        pairs=config.evaluate.pairs,
        matches=config.evaluate.matches,
        seed=config.evaluate.seed,
        device_name=args.device or "auto",
        with_breakdown=args.breakdown,
    )
    print("\n".join(evaluation_lines(results, args.run)))
