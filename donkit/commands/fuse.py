"""`donkit fuse`: fuse scenes into meshes, rendered depth and object masks."""

from __future__ import annotations

import argparse
from pathlib import Path

from donkit.config import load_config
from donkit.options import add_command, add_config_options, add_parallel_options, set_from_options
from donkit.table import format_table

NAME = "fuse"


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = add_command(
        commands,
        NAME,
        "fuse scenes into meshes, rendered depth and object masks",
        """\
        Fuse each complete scene at or below DATA (a scene folder, or a folder of scenes):
        find the table plane and the point the cameras look at from the data, fuse the depth
        of every frame inside the workspace above the table into a TSDF (Open3D), crop the
        mesh to the objects and drop floating fragments, then render the mesh into every
        view. Writes processed/fusion_mesh.ply, processed/rendered_images/XXXXXX_depth.png
        (uint16 mm) and processed/image_masks/XXXXXX_mask.png (nonzero = object). Reads
        only processed/, so scenes recorded elsewhere in the Dense Object Nets layout fuse
        too. Fused scenes are skipped unless --overwrite.""",
    )
    parser.add_argument("data", type=Path, metavar="DATA", help="a scene, or a folder of scenes")
    add_config_options(parser, "fuse.voxel_m=0.003")
    parser.add_argument(
        "--voxel", type=float, metavar="M", help="TSDF voxel size in metres (fuse.voxel_m)"
    )
    add_parallel_options(parser)
    parser.add_argument(
        "--overwrite", action="store_true", help="fuse again scenes that are already fused"
    )
    parser.add_argument(
        "--evaluate",
        action="store_true",
        help="also score each scene against its simulator ground truth (mesh Chamfer-L1, "
        "F-score, normal consistency per object; mask IoU; rendered against sensor depth), "
        "write the scene's metrics.json and print a table",
    )


def run(args: argparse.Namespace) -> None:
    from reconstruct import fuse

    config = load_config(args.config, set_from_options(args, {"voxel": "fuse.voxel_m"})).fuse
    summary = fuse(args.data, config, args.workers, args.backend, args.overwrite, args.evaluate)
    if args.evaluate:
        print(metrics_table(summary.reports))
    print(f"fuse: {summary.line()}")


def metrics_table(reports: list) -> str:
    """Per object of each scene: Chamfer-L1, F-scores, normal consistency; per scene: masks and
    rendered depth."""
    header = ["scene", "object", "chamfer mm", "F@1mm", "F@2mm", "normals", "mask IoU", "depth mm"]
    rows = []
    for report in reports:
        metrics = report.metrics
        for name, values in metrics["objects"].items():
            rows.append(
                [
                    report.scene.name,
                    name,
                    f"{values['chamfer_l1_mm']:.2f}",
                    f"{values['f_score_1mm']:.3f}",
                    f"{values['f_score_2mm']:.3f}",
                    f"{values['normal_consistency']:.3f}",
                    f"{metrics['mask_iou']['median']:.3f}",
                    f"{metrics['rendered_depth_error_mm']['median']:.2f}",
                ]
            )
    return format_table(header, rows)
