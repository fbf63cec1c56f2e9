"""What descriptor and depth training share.

- `config`: `LoopConfig`, the loop's section of each trainer's config (`train.loop`,
  `depth.loop`), and the device choices;
- `loop`: `TrainingRun`, the step loop with its logs, checkpoints, exact resume, NaN stop and
  torchrun, which a trainer subclasses; `start_training` checks the run folder and its kind;
- `checkpoints`: checkpoints written atomically and read as tensors and plain data only;
- `devices`: cpu or cuda, torchrun's processes, deterministic kernels;
- `backbones`: the ResNet encoder (torchvision's parameter names) and the image normalization;
- `augment`: colour jitter.
"""
