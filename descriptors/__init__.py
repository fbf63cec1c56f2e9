"""Dense object descriptors (Dense Object Nets): correspondences between views, training, and
measuring and drawing what was learned.

- `correspondence`, `pairs`: matches and non-matches of two views through the fused mesh, and
  which pairs of views to draw (`donkit correspond` writes them with `dataset`; training draws
  them on the fly with `training_data` and `augment`);
- `network`, `loss`, `train`: the descriptor network on a learn/ backbone, the pixelwise
  contrastive loss, and `train_descriptors` (`donkit train`);
- `evaluation_pairs`, `cross_instance`, `evaluate`: held-out pairs and the best-match evaluation
  against dense SIFT and the untrained network (`donkit evaluate`);
- `visual`, `visualize`, `viewer`: pictures and the web viewer (`donkit visualize`);
- `truth`: correspondences checked against the simulator's ground truth (tests, benchmarks).
"""
