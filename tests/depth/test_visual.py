"""Depth pictures: the same depth gets the same colour when drawn in another depth's scale."""

import numpy as np

from depth.visual import colourise_depth


def test_scale_like_draws_a_prediction_in_the_sensor_colours():
    sensor = np.linspace(0.3, 0.9, 100, dtype=np.float32).reshape(10, 10)
    sensor[0, 0] = 0.0  # no reading: black
    predicted = np.full((10, 10), 0.6, np.float32)
    own = colourise_depth(predicted, 0.1)
    alike = colourise_depth(predicted, 0.1, scale_like=sensor)
    # Alone, a constant depth is its own 95th percentile: the top of the colour map everywhere.
    assert (own == own[0, 0]).all()
    # In the sensor's scale, 0.6 m gets the colour of the sensor's pixel nearest 0.6 m.
    nearest = np.unravel_index(np.argmin(np.abs(sensor - 0.6)), sensor.shape)
    reference = colourise_depth(sensor, 0.1)
    assert np.abs(alike[0, 0].astype(int) - reference[nearest].astype(int)).max() <= 8
    assert (reference[0, 0] == 0).all()
    assert not (alike[0, 0] == own[0, 0]).all()
