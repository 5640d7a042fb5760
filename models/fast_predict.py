"""One-row LightGBM prediction through the C API's "fast" single-row path.

``Booster.predict`` on one row spends most of its time in Python: argument checks, a
fresh prediction config, array conversion. A worker scores one event at a time, so it
pays that per event. ``LGBM_BoosterPredictForMatSingleRowFastInit`` builds the config
once; each call then only walks the trees. Same numbers as ``Booster.predict`` for a float row
(tests/models/test_fast_predict.py); ``make bench`` prints both costs.

A row is read as float64. ``Booster.predict`` reads an integer row as float32 (lossy above
2**24), so the two differ there: ``Scorer`` converts a row to float64 before both.
"""

from __future__ import annotations

import ctypes
import weakref

import lightgbm as lgb
import numpy as np
from lightgbm.basic import _LIB, _c_str, _safe_call

_PREDICT_NORMAL = 0  # C_API_PREDICT_NORMAL: probabilities, not raw scores
_FLOAT64 = 1  # C_API_DTYPE_FLOAT64


class FastPredictor:
    """Probability of one float64 row; not thread-safe (one per worker event loop)."""

    def __init__(self, booster: lgb.Booster) -> None:
        self._booster = booster  # the config points into it: keep it alive
        self._columns = booster.num_feature()
        self._shape = (self._columns,)
        handle = ctypes.c_void_p()
        _safe_call(_LIB.LGBM_BoosterPredictForMatSingleRowFastInit(
            booster._handle, ctypes.c_int(_PREDICT_NORMAL), ctypes.c_int(0),
            ctypes.c_int(booster.best_iteration or -1), ctypes.c_int(_FLOAT64), ctypes.c_int32(self._columns),
            _c_str("num_threads=1"), ctypes.byref(handle)))
        self._handle = handle
        weakref.finalize(self, _LIB.LGBM_FastConfigFree, handle)
        # Buffers made once, with their C pointers: ``ndarray.ctypes.data_as`` costs about ten
        # times what copying a 51-value row into the buffer does (docs/benchmarks.md, seventh round).
        self._row = np.zeros(self._columns, dtype=np.float64)
        self._row_ptr = self._row.ctypes.data_as(ctypes.c_void_p)
        self._out = np.zeros(1, dtype=np.float64)
        self._out_ptr = self._out.ctypes.data_as(ctypes.POINTER(ctypes.c_double))
        self._out_len = ctypes.c_int64()
        self._out_len_ref = ctypes.byref(self._out_len)

    def __call__(self, row: np.ndarray) -> float:
        # Copying into the buffer would broadcast a scalar or a one-value row: check the shape first.
        if getattr(row, "shape", None) != self._shape and np.shape(row) != self._shape:
            raise ValueError(f"a row must be 1-D with the model's {self._columns} features, got shape "
                             f"{np.shape(row)}")
        self._row[:] = row  # converts float32 and strided rows
        _safe_call(_LIB.LGBM_BoosterPredictForMatSingleRowFast(
            self._handle, self._row_ptr, self._out_len_ref, self._out_ptr))
        return float(self._out[0])
