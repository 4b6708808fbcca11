"""Run a baked model on the host: compile a graph or model file in memory (or load a baked
NAME.py), make the device runtime's Model of it on CPython, and run samples through it.

PTQ calibration, `upyflow profile`, the benchmarks, the examples and the tests share this
instead of each writing a temporary module and importing it.
"""
from __future__ import annotations

import copy
import importlib.util
import os
import types
from typing import TYPE_CHECKING

import numpy as np

from . import BakeError
from .bake import BakeResult, compile_graph, compile_model
from .emit import Baked, module_source

if TYPE_CHECKING:   # the device runtime (device_lib/upyflow), imported when a model is made
    from upyflow import Model

# ir / Model dtype names -> numpy
NP_DTYPES = {"i8": np.int8, "u8": np.uint8, "i16": np.int16, "i32": np.int32, "f32": np.float32, "bool": np.bool_,
             "u32": np.uint32}


def module_of(result: BakeResult | Baked, name: str | None = None) -> types.ModuleType:
    """The module the runtime would import, from an in-memory bake (a BakeResult or an
    emit.Baked), via the emitted NAME.py text: no file is written."""
    baked = result.baked if isinstance(result, BakeResult) else result
    name = name or (result.name if isinstance(result, BakeResult) else None) or "model"
    mod = types.ModuleType(name)
    exec(compile(module_source(baked, name), name + ".py", "exec"), mod.__dict__)
    return mod


def load_module(path: str, name: str | None = None) -> types.ModuleType:
    """A baked NAME.py on disk as a module object (not entered in sys.modules)."""
    name = name or os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None or not os.path.exists(path):
        raise BakeError("cannot load the baked module %s" % path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def model_of(mod: types.ModuleType, tier: str | None = None) -> Model:
    """The runtime's Model of a baked module; `tier` forces 'native', 'viper' or 'pure'."""
    import upyflow
    return upyflow.Model(mod, tier)


def load_graph(graph, name: str = "upyflow_graph", tier: str | None = None) -> Model:
    """Compile a copy of an ir.Graph in memory and load it as a Model (`graph` is unchanged)."""
    result = compile_graph(copy.deepcopy(graph), "<%s>" % name, name)
    return model_of(module_of(result, name), tier)


def load_model(path: str, name: str = "model", tier: str | None = None, data: bytes | None = None,
               **options) -> tuple[Model, types.ModuleType, BakeResult]:
    """Compile a model file (or `data`, its bytes) in memory: (Model, module, BakeResult).
    `options` go to bake.compile_model (weights, rounding, patches, quantize)."""
    result = compile_model(path, name, data=data, **options)
    mod = module_of(result, name)
    return model_of(mod, tier), mod, result


def invoke(model: Model, inputs: list[np.ndarray]) -> list[np.ndarray]:
    """One invoke: inputs (each in its input's dtype or castable to it) -> outputs, shaped."""
    for i, x in enumerate(inputs):
        model.set_input(i, np.ascontiguousarray(x, NP_DTYPES[model.input_dtype[i]]).tobytes())
    model.invoke()
    return [np.frombuffer(bytes(model.get_output(j)), NP_DTYPES[model.output_dtype[j]])
            .reshape(model.output_shape[j]) for j in range(len(model.output_shape))]


def run_samples(model: Model, samples: list[np.ndarray]) -> list[np.ndarray]:
    """Each sample through the model (samples[i]: input i stacked on a leading axis);
    one array per output, stacked the same way."""
    got: list[list[np.ndarray]] = [[] for _ in model.output_shape]
    for k in range(len(samples[0])):
        for j, y in enumerate(invoke(model, [x[k] for x in samples])):
            got[j].append(y)
    return [np.stack(v) for v in got]


def run_graph(graph, samples: list[np.ndarray], outputs: list[int] | None = None,
              tier: str | None = None) -> list[np.ndarray]:
    """run_samples on an ir.Graph compiled in memory; `outputs`: tensors to return instead
    of the graph's outputs (any intermediate tensor)."""
    if outputs is not None:
        graph = copy.copy(graph)
        graph.outputs = list(outputs)
    return run_samples(load_graph(graph, tier=tier), samples)
