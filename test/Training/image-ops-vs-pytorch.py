# The ops of image-to-image networks (ImportImageOps.cpp): transposed
# convolution, instance and group norm, PReLU, constant/reflection/
# replication padding and bilinear upsampling, each against PyTorch:
#
# 1. Forward: every variant imported and compiled matches LibTorch within
#    1e-4 of the output's range (strides, crops, output_padding, dilation,
#    no bias; traced and scripted; pads of 1-d and 2-d; bilinear by scale
#    and by size, with and without align_corners).
# 2. Gradients: a generator using all of them (batch norm too), its loss and
#    every parameter's gradient from --qat-generate-backward against
#    autograd within 1e-4, and two random directional derivatives against
#    central finite differences of our own loss (2% + 1e-4).
# 3. int8: the generator, made a loss model (L1 to a target image), trained
#    QAT from scratch with StatAssist and GradBoost; the transposed
#    convolutions are per-output-channel quantized layers (axis 1 of their
#    C_in x C_out weights) and run as int8 convolutions; the int8 program's
#    outputs equal the trained model's.
# 4. Errors for what is not supported, each naming the op.
#
# Part 3 needs the Python extension (not in the sanitizer build):
#
# RUN: rm -rf %t && mkdir -p %t
# RUN: %python %s %t | FileCheck %s
# RUN: %if python-extension %{ %python %s %t --int8 | FileCheck %s --check-prefix=INT8 %}
#
# CHECK: conv_transpose k4 s2 p1: ok
# CHECK: conv_transpose k3 s2 p1 output_padding 1: ok
# CHECK: conv_transpose k3 s1 dilation 2, no bias: ok
# CHECK: conv_transpose k3 s2 p3 (crops): ok
# CHECK: conv_transpose scripted: ok
# CHECK: instance_norm affine: ok
# CHECK: group_norm 2 groups: ok
# CHECK: prelu per channel and shared: ok
# CHECK: pad reflect / replicate / constant: ok
# CHECK: reflection_pad1d / replication_pad1d: ok
# CHECK: bilinear x2: ok
# CHECK: bilinear to 7x9 align_corners: ok
# CHECK: bilinear x1.5: ok
# CHECK: generator: loss matches; 16 parameter gradients within 1e-4
# CHECK: generator: 2 directions within bound
# INT8: int8: 6 of 6 convolutions (2 transposed) run on integer codes; outputs equal the trained model
# CHECK: error: transposed convolution with groups = 2 is not supported
# CHECK: error: reflection padding of 4 needs a dimension larger than that, got 4
# CHECK: error: padding mode 'circular' is not supported
# CHECK: error: instance_norm that updates running statistics

import re
import subprocess
import sys
import warnings

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

import qat_mlir
from qat_mlir import datasets, models
from qat_mlir.testing import function_signature

warnings.filterwarnings("ignore")
out = sys.argv[1]
int8_part = "--int8" in sys.argv
TOLERANCE = 1e-4


class Lambda(nn.Module):
    def __init__(self, fn, **modules):
        super().__init__()
        self.fn = fn
        for name, module in modules.items():
            setattr(self, name, module)

    def forward(self, x):
        return self.fn(self, x)


def forward_check(name, model, shape, script=False):
    model = model.eval()
    x = torch.randn(shape)
    with torch.no_grad():
        expected = model(x).numpy()
        archive = torch.jit.script(model) if script else torch.jit.trace(model, x)
    stem = f"{out}/" + "".join(c if c.isalnum() else "_" for c in name)
    archive.save(stem + ".pt")
    qat_mlir.import_torchscript(stem + ".pt", stem + ".mlir", [shape])
    (actual,) = qat_mlir.run_file(stem + ".mlir", "predict", [x.numpy()])
    assert actual.shape == expected.shape, (name, actual.shape, expected.shape)
    error = np.abs(actual - expected).max() / max(np.abs(expected).max(), 1e-30)
    assert error <= TOLERANCE, (name, error)
    print(f"{name}: ok")


class Generator(nn.Module):
    """A small Pix2Pix-style U-Net generator with every op above."""

    def __init__(self, channels=1):
        super().__init__()
        self.pad = nn.ReflectionPad2d(1)
        self.enc1 = nn.Conv2d(channels, 8, 3)
        self.enc2 = nn.Conv2d(8, 16, 4, stride=2, padding=1, bias=False)
        self.norm2 = nn.InstanceNorm2d(16, affine=True)
        self.enc3 = nn.Conv2d(16, 16, 4, stride=2, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(16)
        self.dec3 = nn.ConvTranspose2d(16, 16, 4, stride=2, padding=1)
        self.act3 = nn.PReLU(16)
        self.dec2 = nn.ConvTranspose2d(32, 8, 4, stride=2, padding=1, bias=False)
        self.norm_dec2 = nn.GroupNorm(2, 8)
        self.out = nn.Conv2d(16, channels, 3, padding=1)

    def forward(self, x):
        e1 = F.leaky_relu(self.enc1(self.pad(x)), 0.2)
        e2 = F.leaky_relu(self.norm2(self.enc2(e1)), 0.2)
        e3 = F.relu(self.bn3(self.enc3(e2)))
        d3 = self.act3(self.dec3(e3))
        d2 = F.relu(self.norm_dec2(self.dec2(torch.cat([d3, e2], 1))))
        smooth = F.interpolate(e3, scale_factor=4, mode="bilinear", align_corners=False)
        y = self.out(torch.cat([d2, e1 + smooth[:, :8]], 1))
        return torch.tanh(F.pad(y, (1, 1, 1, 1), mode="replicate")[:, :, 1:-1, 1:-1])


def check_forwards():
    torch.manual_seed(0)
    forward_check("conv_transpose k4 s2 p1", nn.ConvTranspose2d(3, 5, 4, stride=2, padding=1),
                  (2, 3, 5, 6))
    forward_check("conv_transpose k3 s2 p1 output_padding 1",
                  nn.ConvTranspose2d(3, 4, 3, stride=2, padding=1, output_padding=1), (2, 3, 4, 4))
    forward_check("conv_transpose k3 s1 dilation 2, no bias",
                  nn.ConvTranspose2d(3, 4, 3, dilation=2, bias=False), (1, 3, 5, 5))
    forward_check("conv_transpose k3 s2 p3 (crops)",
                  nn.ConvTranspose2d(3, 4, 3, stride=(2, 3), padding=3), (1, 3, 6, 7))


    class ScriptedUp(nn.Module):
        def __init__(self):
            super().__init__()
            self.up = nn.ConvTranspose2d(4, 3, 2, stride=2)

        def forward(self, x):
            return F.conv_transpose2d(x, self.up.weight, self.up.bias, stride=2, output_padding=1)


    forward_check("conv_transpose scripted", ScriptedUp(), (2, 4, 3, 3), script=True)
    forward_check("instance_norm affine",
                  nn.Sequential(nn.InstanceNorm2d(4, affine=True), nn.InstanceNorm2d(4)),
                  (3, 4, 5, 5))
    group_norm = nn.GroupNorm(2, 6)
    nn.init.uniform_(group_norm.weight, 0.5, 1.5)
    nn.init.uniform_(group_norm.bias, -0.5, 0.5)
    forward_check("group_norm 2 groups", group_norm, (2, 6, 3, 4))
    prelu = nn.PReLU(4)
    nn.init.uniform_(prelu.weight, -0.5, 0.5)
    forward_check("prelu per channel and shared", nn.Sequential(prelu, nn.PReLU()), (2, 4, 3, 3))
    forward_check("pad reflect / replicate / constant", Lambda(
        lambda m, x: F.pad(F.pad(m.reflect(x), (1, 2, 3, 0), mode="replicate"), (2, 1, 0, 1),
                           value=0.5) + 0.1 * F.pad(x, (4, 5, 3, 4), mode="reflect"),
        reflect=nn.ReflectionPad2d((2, 1, 1, 2))), (2, 3, 5, 6))
    forward_check("reflection_pad1d / replication_pad1d",
                  nn.Sequential(nn.ReflectionPad1d((2, 3)), nn.ReplicationPad1d(2)), (2, 3, 7))
    forward_check("bilinear x2", nn.Upsample(scale_factor=2, mode="bilinear"), (2, 3, 4, 5))
    forward_check("bilinear to 7x9 align_corners",
                  nn.Upsample(size=(7, 9), mode="bilinear", align_corners=True), (1, 2, 4, 5))
    forward_check("bilinear x1.5", Lambda(
        lambda m, x: F.interpolate(x, scale_factor=1.5, mode="bilinear")), (1, 2, 4, 6))


def check_gradients():
    def loss_and_gradients(name, model, x, labels):
        """Imports `model` (logits flattened to classes) for training and
        returns our loss function's runner, the state names and the
        gradient-carrying parameter names."""
        state = {k: v.clone() for k, v in model.state_dict().items()}
        torch.jit.trace(model, x, check_trace=False).save(f"{out}/{name}.pt")
        model.load_state_dict(state)
        qat_mlir.import_torchscript(f"{out}/{name}.pt", f"{out}/{name}.mlir", [x.shape],
                                    mode="train")
        subprocess.run([qat_mlir.find_tool("qat-opt"), "--qat-generate-backward",
                        f"{out}/{name}.mlir", "-o", f"{out}/{name}-grad.mlir"], check=True)
        arguments, _ = function_signature(open(f"{out}/{name}-grad.mlir").read(),
                                          "loss_and_gradients")
        names = [n for role, n in arguments if role == "state"]
        parameters = [n for n, _ in model.named_parameters() if n in names]

        def run(values):
            inputs = [values[n] for n in names] + [x.numpy(), labels.numpy()]
            return qat_mlir.run_file(f"{out}/{name}-grad.mlir", "loss_and_gradients", inputs)

        return run, {n: state[n].numpy() for n in names}, parameters


    class Classified(nn.Module):
        """The generator's image as logits over its pixels' columns (a loss
        that reaches every output pixel)."""

        def __init__(self):
            super().__init__()
            self.net = Generator()

        def forward(self, x):
            return self.net(x).flatten(1)[:, :10] * 3.0 + self.net(x).mean((2, 3))


    torch.manual_seed(1)
    model = Classified()
    nn.init.uniform_(model.net.norm2.weight, 0.5, 1.5)
    nn.init.uniform_(model.net.act3.weight, -0.3, 0.3)
    model = models.randomize_batch_norm(model).train()
    x, labels = torch.randn(3, 1, 16, 16), torch.tensor([4, 0, 9])
    run, base, parameters = loss_and_gradients("generator", model, x, labels)
    results = run(base)
    loss = F.cross_entropy(model(x), labels)
    loss.backward()
    assert abs(results[0] - loss.item()) <= 1e-5 * max(1.0, abs(loss.item())), (results[0], loss)
    gradients = dict(zip(parameters, results[-len(parameters):]))
    named = dict(model.named_parameters())
    for parameter in parameters:
        reference = named[parameter].grad.numpy()
        error = np.abs(gradients[parameter] - reference).max() / max(np.abs(reference).max(), 1e-30)
        assert error <= TOLERANCE, (parameter, error)
    print(f"generator: loss matches; {len(parameters)} parameter gradients within 1e-4")

    rng = np.random.default_rng(0)
    h = 1e-3  # ReLU kinks: a larger step crosses some (autograd agrees above)
    for _ in range(2):
        direction = {n: rng.standard_normal(base[n].shape).astype(np.float32) for n in parameters}
        norm = np.sqrt(sum(float((d.astype(np.float64) ** 2).sum()) for d in direction.values()))
        direction = {n: d / np.float32(norm) for n, d in direction.items()}
        plus = dict(base, **{n: base[n] + h * direction[n] for n in parameters})
        minus = dict(base, **{n: base[n] - h * direction[n] for n in parameters})
        finite = (float(run(plus)[0]) - float(run(minus)[0])) / (2 * h)
        analytic = sum(float((gradients[n].astype(np.float64) * direction[n]).sum())
                       for n in parameters)
        assert abs(finite - analytic) <= 2e-2 * abs(analytic) + 1e-4, (finite, analytic)
    print("generator: 2 directions within bound")


def check_int8():
    # int8: outline -> item on Fashion-MNIST crops, L1 loss.
    images = datasets.fashion_mnist("train")[0][:256, None, 6:22, 6:22]
    items = images.astype(np.float32) / 127.5 - 1.0
    outlines = np.abs(np.diff(items, axis=3, prepend=-1.0)).astype(np.float32)
    torch.manual_seed(2)
    module = qat_mlir.import_module(models.WithLoss(Generator(), F.l1_loss),
                                    (torch.zeros(16, 1, 16, 16), torch.zeros(16, 1, 16, 16)))
    trainer = qat_mlir.Trainer(module, qconfig="per-channel", stat_assist_epochs=1,
                               grad_boost=True, lr=0.02, seed=3)
    history = trainer.fit((outlines, items), epochs=2, progress=False)
    assert history[-1]["loss"] < history[0]["loss"], history
    program = qat_mlir.compile(trainer)
    assert program.quantized
    expected = trainer.predict(outlines[:64])
    assert np.array_equal(program(outlines[:64]), expected)
    trainer.save(f"{out}/generator-trained.mlir")
    done = subprocess.run([qat_mlir.find_tool("qat-compile"), f"{out}/generator-trained.mlir",
                           "--emit=mlir", "-o", f"{out}/generator-int8.mlir"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    trained = open(f"{out}/generator-trained.mlir").read()
    # The two transposed convolutions' weights (C_in x C_out x 4 x 4), fake-
    # quantized per output channel: along axis 1.
    per_output_channel = set(re.findall(
        r"fake_quant %arg\d+, %\w+, %\w+ to si8\[-128 : 127\] axis 1 : "
        r"tensor<(\d+x\d+)x4x4xf32>", trained))
    assert per_output_channel == {"16x16", "32x8"}, per_output_channel
    text = open(f"{out}/generator-int8.mlir").read()
    convolutions = re.findall(r"linalg.conv_2d_nchw_fchw .* ins\([^)]*: tensor<[^>]*x(\w+)>, "
                              r"tensor<[^>]*x(\w+)>\)", text)
    assert len(convolutions) == 6, convolutions
    int8 = sum(1 for x_type, w_type in convolutions if x_type == w_type == "i32")
    print(f"int8: {int8} of 6 convolutions (2 transposed) run on integer codes; "
          "outputs equal the trained model")


def check_errors():
    def import_error(name, model, shape, traced_shape=None):
        """qat-import of `model` (traced at traced_shape) at `shape` fails with
        an error and writes nothing; prints the error's first line."""
        torch.jit.trace(model, torch.randn(traced_shape or shape)).save(f"{out}/{name}.pt")
        done = subprocess.run([qat_mlir.find_tool("qat-import"), f"{out}/{name}.pt",
                               "--input-shape", "x".join(map(str, shape)), "-o",
                               f"{out}/{name}.mlir"], capture_output=True, text=True)
        assert done.returncode != 0 and not __import__("os").path.exists(f"{out}/{name}.mlir")
        print(done.stderr.strip().splitlines()[0])


    import_error("grouped", nn.ConvTranspose2d(4, 4, 3, groups=2), (1, 4, 5, 5))
    import_error("reflect_too_far", nn.ReflectionPad2d(4), (1, 1, 4, 8), traced_shape=(1, 1, 8, 8))
    import_error("circular", Lambda(lambda m, x: F.pad(x, (1, 1, 1, 1), mode="circular")),
                 (1, 1, 4, 4))
    import_error("instance_running", nn.InstanceNorm2d(3, track_running_stats=True).train(),
                 (2, 3, 4, 4))


if int8_part:
    check_int8()
else:
    check_forwards()
    check_gradients()
    check_errors()
