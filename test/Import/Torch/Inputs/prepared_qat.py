"""A small CNN prepared for QAT with PyTorch's qnnpack qconfig (observers
warmed up on data), saved as a traced archive to argv[1]. The state before
tracing is kept, since tracing runs forward and moves the observers."""

import copy
import os
import sys
import warnings

import torch
import torch.ao.quantization as tq
from torch import nn

warnings.filterwarnings("ignore")


class PreparedCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.quant = tq.QuantStub()
        self.conv = nn.Conv2d(1, 8, 3, padding=1)
        self.relu = nn.ReLU()
        self.fc = nn.Linear(8 * 4 * 4, 5)
        self.dequant = tq.DeQuantStub()

    def forward(self, x):
        x = self.relu(self.conv(self.quant(x)))
        x = torch.nn.functional.max_pool2d(x, 2)
        return self.dequant(self.fc(torch.flatten(x, 1)))


def build(seed=0):
    torch.manual_seed(seed)
    model = PreparedCNN()
    model.qconfig = tq.get_default_qat_qconfig("qnnpack")
    model.train()
    tq.prepare_qat(model, inplace=True)
    for _ in range(3):
        model(torch.randn(4, 1, 8, 8))
    return model.eval()


if __name__ == "__main__":
    model = build()
    state = copy.deepcopy(model.state_dict())
    traced = torch.jit.trace(model, torch.randn(2, 1, 8, 8), check_trace=False)
    traced.load_state_dict(state)
    traced.save(os.path.join(sys.argv[1], "prepared.pt"))
