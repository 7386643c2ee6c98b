"""TorchServe handler for a TorchScript model whose forward() takes
Optional[Tensor] arguments (docs/serving.md). torch_optspec is enabled before
the model's first call and every call runs under torch.inference_mode().

Requests are JSON objects with one list per forward() argument, e.g. for
BERT {"input_ids": [[101, 7592, 102]], "attention_mask": [[1, 1, 1]]}; an
argument left out is None. Each request runs as one call.

    torch-model-archiver --model-name bert --version 1 \
        --serialized-file bert_scripted.pt \
        --handler examples/serving/torchserve_handler.py
    torchserve --start --model-store model_store --models bert=bert.mar

The first two calls of each None-pattern (arguments given / left out) profile
and optimize: send one or two representative requests per pattern before
taking traffic. The handler logs torch_optspec.report() (one line: graphs
seen and specialized, or why nothing was) after the 4th call and whenever the
number of specialized graphs changes: TorchServe's model_log.log shows what
the pass did.
"""
import json
import logging

import torch

import torch_optspec
from ts.torch_handler.base_handler import BaseHandler

logger = logging.getLogger(__name__)


class OptspecHandler(BaseHandler):
    def initialize(self, context):
        # Before the first call: the switch is read when a graph is profiled
        # and when it is optimized (the first two calls).
        torch_optspec.enable()
        super().initialize(context)  # torch.jit.load(serializedFile, map_location=device); eval()
        schema = self.model.forward.schema
        self.arg_names = [a.name for a in schema.arguments[1:]]  # without self
        self.calls, self.specialized = 0, 0
        logger.info(torch_optspec.report())

    def _call(self, kwargs):
        with torch.inference_mode():
            out = self.model(**kwargs)
        self.calls += 1
        specialized = torch_optspec.stats()["graphs_specialized"]
        if self.calls == 4 or specialized != self.specialized:
            self.specialized = specialized
            logger.info(torch_optspec.report())
        return out

    def preprocess(self, data):
        calls = []
        for row in data:
            body = row.get("body") or row.get("data") or row
            if isinstance(body, (bytes, bytearray)):
                body = json.loads(body)
            unknown = set(body) - set(self.arg_names)
            if unknown:
                raise ValueError(f"unknown inputs {sorted(unknown)}; forward() takes {self.arg_names}")
            calls.append({k: torch.as_tensor(v, device=self.device) for k, v in body.items()})
        return calls

    def inference(self, data, *args, **kwargs):
        return [self._call(call) for call in data]

    def postprocess(self, data):
        def to_list(out):
            if isinstance(out, torch.Tensor):
                return out.tolist()
            if isinstance(out, (tuple, list)):
                return [to_list(o) for o in out]
            if isinstance(out, dict):
                return {k: to_list(v) for k, v in out.items()}
            return out
        return [to_list(out) for out in data]
