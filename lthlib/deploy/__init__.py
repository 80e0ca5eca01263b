"""Deploying a stored ticket: export it in compact forms and measure what it saves.

- :mod:`~lthlib.deploy.stored`   find a stored level's trained weights (or say why there are none)
- :mod:`~lthlib.deploy.sparse`   the sparse checkpoint: surviving values and their positions
- :mod:`~lthlib.deploy.forms`    PyTorch (dense, CSR Linear layers), ONNX fp32 and int8, and how
  each runs a batch on one CPU thread
- :mod:`~lthlib.deploy.export`   one level in every form, zstd copies and a manifest; the loader
- :mod:`~lthlib.deploy.predict`  the standalone script every export carries (``predict.py``:
  numpy and onnxruntime, no lthlib): the test rows of the raw file scored, the accuracy checked
- :mod:`~lthlib.deploy.measure`  counts, FLOPs, bytes, accuracy and latency of every form

It reads the store's weights (``final.pt``); the report reads only the tables it writes.
"""
from .export import export_ticket, load_ticket
from .stored import find_level

__all__ = ["export_ticket", "find_level", "load_ticket"]
