import numpy as np
import pytest

from posediff.data.sample import Dataset, Sequence, base_action
from posediff.errors import InputError


def _seq(subject="S1", action="Walking 1", T=10, cam="c0", **kw):
    rng = np.random.default_rng(0)
    x3d = rng.normal(size=(T, 17, 3))
    x3d[:, 0] = 0
    return Sequence(subject=subject, action=action, x2d=rng.normal(size=(T, 17, 2)), x3d=x3d,
                    root=rng.normal(size=(T, 1, 3)), camera=np.arange(9.0), camera_name=cam, **kw)


def test_base_action_and_defaults():
    s = _seq()
    assert s.base_action == "Walking" and base_action("Photo") == "Photo" and base_action(None) == ""
    assert s.valid.dtype == bool and s.valid.shape == (10,) and s.valid.all()
    assert s.x2d.dtype == np.float32 and s.x3d.dtype == np.float32 and s.camera.dtype == np.float32
    assert s.num_frames == len(s) == 10 and s.num_joints == 17
    np.testing.assert_allclose(s.absolute_3d, s.x3d + s.root)
    assert s.replace(action="Eating 2").base_action == "Eating"


@pytest.mark.parametrize("field,value", [
    ("x2d", np.zeros((10, 16, 2))), ("x3d", np.zeros((9, 17, 3))), ("root", np.zeros((10, 3))),
    ("camera", np.zeros(4)), ("valid", np.ones(3, bool)), ("image_size", (0, 10)),
])
def test_sequence_rejects_bad_shapes(field, value):
    with pytest.raises(InputError, match=field):
        _seq().replace(**{field: value})


def test_dataset_filters_and_summary():
    ds = Dataset([_seq("S1", "Walking 1", cam="a"), _seq("S1", "Walking 2", cam="b"), _seq("S5", "Eating", cam="a")],
                 name="toy")
    assert ds.subjects == ["S1", "S5"] and ds.base_actions == ["Walking", "Eating"]
    assert len(ds.filter(subjects="S1")) == 2
    assert len(ds.filter(base_actions=["Walking"])) == 2
    assert len(ds.filter(actions="Walking 2")) == 1
    assert len(ds.filter(subjects="S5", cameras="b")) == 0
    assert ds.num_frames == 30
    text = ds.summary()
    assert "3 sequences" in text and "S5: 10 frames" in text and "Eating" in text
    with pytest.raises(InputError):
        Dataset([1, 2])
