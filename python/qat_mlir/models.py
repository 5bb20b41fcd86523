"""Models used by the demo, the tests and the experiments, in plain PyTorch.

MobileNetV2 follows torchvision's structure (features.N.conv.M names,
_make_divisible channel rounding, ReLU6, classifier = Dropout + Linear)
without depending on torchvision.
"""

import math

import torch
from torch import nn
import torch.nn.functional as F


def randomize_batch_norm(model, seed=0):
    """Non-trivial running statistics and affine parameters for eval mode."""
    generator = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
            n = module.num_features
            module.running_mean.copy_(torch.randn(n, generator=generator) * 0.1)
            module.running_var.copy_(torch.rand(n, generator=generator) + 0.5)
            module.weight.data.copy_(torch.rand(n, generator=generator) + 0.5)
            module.bias.data.copy_(torch.randn(n, generator=generator) * 0.1)
    return model


class SmallCNN(nn.Module):
    """The training issue's small CNN for 28x28 grey images."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(32)
        self.fc = nn.Linear(32 * 7 * 7, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)
        return self.fc(torch.flatten(x, 1))


class ScriptedCNN(nn.Module):
    """Small CNN whose flatten uses x.size(0): for torch.jit.script."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.fc = nn.Linear(8 * 4 * 4, 5)

    def forward(self, x):
        x = F.relu(self.bn(self.conv(x)))
        return self.fc(x.view(x.size(0), -1))


class BasicBlock(nn.Module):
    """ResNet's basic block with a projection shortcut."""

    def __init__(self, inplanes=16, planes=32, stride=2):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = nn.Sequential(
            nn.Conv2d(inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x):
        identity = self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += identity
        return self.relu(out)


def _make_divisible(v, divisor=8, min_value=None):
    min_value = min_value or divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


class ConvBNActivation(nn.Sequential):
    def __init__(self, inp, out, kernel=3, stride=1, groups=1):
        super().__init__(
            nn.Conv2d(inp, out, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
            nn.BatchNorm2d(out), nn.ReLU6(inplace=True))


class InvertedResidual(nn.Module):
    def __init__(self, inp, oup, stride, expand_ratio):
        super().__init__()
        hidden = int(round(inp * expand_ratio))
        self.use_res_connect = stride == 1 and inp == oup
        layers = []
        if expand_ratio != 1:
            layers.append(ConvBNActivation(inp, hidden, kernel=1))
        layers += [ConvBNActivation(hidden, hidden, stride=stride, groups=hidden),
                   nn.Conv2d(hidden, oup, 1, 1, 0, bias=False), nn.BatchNorm2d(oup)]
        self.conv = nn.Sequential(*layers)

    def forward(self, x):
        if self.use_res_connect:
            return x + self.conv(x)
        return self.conv(x)


class MobileNetV2(nn.Module):
    def __init__(self, num_classes=1000, width_mult=1.0, in_channels=3,
                 first_stride=2):
        super().__init__()
        input_channel = _make_divisible(32 * width_mult)
        last_channel = _make_divisible(1280 * max(1.0, width_mult))
        settings = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2],
                    [6, 96, 3, 1], [6, 160, 3, 2], [6, 320, 1, 1]]
        features = [ConvBNActivation(in_channels, input_channel, stride=first_stride)]
        for t, c, n, s in settings:
            output_channel = _make_divisible(c * width_mult)
            for i in range(n):
                features.append(InvertedResidual(input_channel, output_channel,
                                                 s if i == 0 else 1, t))
                input_channel = output_channel
        features.append(ConvBNActivation(input_channel, last_channel, kernel=1))
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(last_channel, num_classes))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        x = self.features(x)
        x = F.adaptive_avg_pool2d(x, (1, 1))
        x = torch.flatten(x, 1)
        return self.classifier(x)


class TinyMobileNet(nn.Module):
    """MobileNetV2's building blocks at test size for 28x28 inputs: a
    strided Conv+BN+ReLU6 stem, inverted residuals (1x1 expansion,
    depthwise 3x3, 1x1 projection; residual additions where the shape
    allows), a 1x1 Conv+BN+ReLU6, global average pooling and a linear
    classifier."""

    def __init__(self, num_classes=10, in_channels=1):
        super().__init__()
        self.features = nn.Sequential(
            ConvBNActivation(in_channels, 8, stride=2),
            InvertedResidual(8, 8, 1, 2),
            InvertedResidual(8, 16, 2, 3),
            InvertedResidual(16, 16, 1, 3),
            ConvBNActivation(16, 32, kernel=1))
        self.classifier = nn.Linear(32, num_classes)

    def forward(self, x):
        x = F.adaptive_avg_pool2d(self.features(x), (1, 1))
        return self.classifier(torch.flatten(x, 1))


class FusableSmallCNN(nn.Module):
    """SmallCNN with ReLU modules, so PyTorch's eager QAT can fuse
    Conv+BN+ReLU (`qat_ready`); same parameters and state_dict keys."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(32)
        self.relu2 = nn.ReLU()
        self.fc = nn.Linear(32 * 7 * 7, 10)

    def forward(self, x):
        x = F.max_pool2d(self.relu1(self.bn1(self.conv1(x))), 2)
        x = F.max_pool2d(self.relu2(self.bn2(self.conv2(x))), 2)
        return self.fc(torch.flatten(x, 1))


class ConvBnReluNet(nn.Module):
    """A small QAT test model without max pooling (whose gradient depends
    on near-ties that float summation order decides): Conv+BN+ReLU and a
    strided Conv+ReLU, both fusable in PyTorch's QAT form (FUSE)."""

    FUSE = [["conv1", "bn1", "relu1"], ["conv2", "relu2"]]

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(8, 16, 3, stride=2, padding=1)
        self.relu2 = nn.ReLU()
        self.fc = nn.Linear(16 * 7 * 7, 10)

    def forward(self, x):
        x = self.relu2(self.conv2(self.relu1(self.bn1(self.conv1(x)))))
        return self.fc(torch.flatten(F.avg_pool2d(x, 2), 1))


class StubbedResidualCNN(nn.Module):
    """A CNN written for PyTorch's eager QAT with every form it prepares:
    QuantStub/DeQuantStub, Conv+BN+ReLU with a bias, Conv+BN without one, a
    FloatFunctional residual add, Linear+ReLU and Linear (FUSE), for
    1 x image_size x image_size images."""

    FUSE = [["conv1", "bn1", "relu1"], ["conv2", "bn2"], ["fc1", "relu3"]]

    def __init__(self, image_size=28):
        import torch.ao.quantization as tq
        super().__init__()
        self.quant = tq.QuantStub()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.relu1 = nn.ReLU()
        self.pool = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(8)
        self.add = nn.quantized.FloatFunctional()
        self.fc1 = nn.Linear(8 * (image_size // 2) ** 2, 32)
        self.relu3 = nn.ReLU()
        self.fc2 = nn.Linear(32, 10)
        self.dequant = tq.DeQuantStub()

    def forward(self, x):
        x = self.pool(self.relu1(self.bn1(self.conv1(self.quant(x)))))
        x = self.add.add(self.bn2(self.conv2(x)), x)
        x = self.relu3(self.fc1(x.flatten(1)))
        return self.dequant(self.fc2(x))


def qat_ready(model, fuse, backend="qnnpack"):
    """PyTorch's eager QAT preparation: fuse the given Conv+BN(+ReLU) groups
    in their QAT form, wrap with quant/dequant stubs, prepare_qat with the
    backend's default QAT qconfig (qnnpack: activations uint8 affine,
    weights int8 symmetric per tensor)."""
    import torch.ao.quantization as tq
    model.train()
    tq.fuse_modules_qat(model, fuse, inplace=True)
    wrapped = nn.Sequential(tq.QuantStub(), model, tq.DeQuantStub())
    wrapped.qconfig = tq.get_default_qat_qconfig(backend)
    tq.prepare_qat(wrapped, inplace=True)
    return wrapped


def pytorch_qat_name(name, fuse):
    """A state name of a module prepared by --qat-prepare -> the name of the
    same tensor in PyTorch's eager QAT model (`qat_ready`: wrapped in
    Sequential(QuantStub, model, DeQuantStub), `fuse` groups fused)."""
    bn_of = {group[1]: group[0] for group in fuse if len(group) == 3}
    prefix, _, rest = name.partition(".")
    if prefix == "quant":  # quant.<input>.activation_post_process.X
        rest = rest.split(".", 1)[1]
        return "0." + _observer_name(rest)
    if prefix in bn_of:
        return f"1.{bn_of[prefix]}.bn.{rest}"
    return f"1.{prefix}." + _observer_name(rest)


def _observer_name(rest):
    # weight_fake_quant.min_val -> weight_fake_quant.activation_post_process.min_val
    head, _, leaf = rest.rpartition(".")
    if head and leaf in ("min_val", "max_val"):
        return f"{head}.activation_post_process.{leaf}"
    return rest


def converted_qat_model(state, fuse, make=None):
    """PyTorch's deployment of a model trained by qat-mlir: `state` (the
    state_dict that qat-export writes of a module prepared by
    --qat-prepare, per-tensor qnnpack qconfig) loaded into PyTorch's eager
    QAT model of the same structure (`make()`, FusableSmallCNN by default),
    observers disabled so the trained quantization parameters stay, then
    torch.ao.quantization.convert. Returns (QAT model in eval mode,
    converted model); run the latter on the quantized engine of choice."""
    import torch.ao.quantization as tq
    wrapped = qat_ready((make or FusableSmallCNN)(), fuse, backend="qnnpack")
    target = wrapped.state_dict()
    for name, value in state.items():
        mapped = pytorch_qat_name(name, fuse)
        if mapped in target:
            target[mapped] = value.reshape(target[mapped].shape)
    wrapped.load_state_dict(target)
    # PyTorch's observers keep observing in eval mode, and convert runs the
    # weight observers once more: disable them.
    wrapped.apply(tq.disable_observer)
    wrapped.eval()
    return wrapped, tq.convert(wrapped)  # convert copies (inplace=False)


class SegmentationNet(nn.Module):
    """A MobileNetV2-style encoder-decoder for per-pixel classes: a strided
    Conv+BN+ReLU6 stem and inverted residuals down to 1/8 of the input (so
    that the deepest features see a whole Fashion-MNIST item), then a
    decoder that upsamples (nearest, x2) and adds the encoder's features of
    the same size through a 1x1 Conv+BN projection, as the skip connections
    of ESPNet and MobileNetV2 segmentation heads, a depthwise refinement and
    a 1x1 classifier, upsampled to the input's size."""

    def __init__(self, num_classes=11, in_channels=1, width=16):
        super().__init__()
        w = width
        self.stem = ConvBNActivation(in_channels, w, stride=2)                   # 1/2
        self.down1 = nn.Sequential(InvertedResidual(w, 2 * w, 2, 4),              # 1/4
                                   InvertedResidual(2 * w, 2 * w, 1, 4))
        self.down2 = nn.Sequential(InvertedResidual(2 * w, 4 * w, 2, 4),          # 1/8
                                   InvertedResidual(4 * w, 4 * w, 1, 4))
        self.up2 = ConvBNActivation(4 * w, 2 * w, kernel=1)
        self.skip2 = nn.Sequential(nn.Conv2d(2 * w, 2 * w, 1, bias=False), nn.BatchNorm2d(2 * w))
        self.up1 = ConvBNActivation(2 * w, w, kernel=1)
        self.skip1 = nn.Sequential(nn.Conv2d(w, w, 1, bias=False), nn.BatchNorm2d(w))
        self.refine = ConvBNActivation(w, w, groups=w)
        self.head = nn.Conv2d(w, num_classes, 1)

    def forward(self, x):
        half = self.stem(x)
        quarter = self.down1(half)
        eighth = self.down2(quarter)
        y = F.interpolate(self.up2(eighth), scale_factor=2) + self.skip2(quarter)
        y = F.interpolate(self.up1(y), scale_factor=2) + self.skip1(half)
        return F.interpolate(self.head(self.refine(y)), scale_factor=2)


class WithLoss(nn.Module):
    """`net` with its loss: forward(inputs, targets) returns (loss, outputs),
    what a Trainer trains from (inputs, targets) and compile deploys as
    `net` (the outputs, from the inputs alone)."""

    def __init__(self, net, loss):
        super().__init__()
        self.net = net
        self.loss = loss

    def forward(self, inputs, targets):
        outputs = self.net(inputs)
        return self.loss(outputs, targets), outputs


class UNetGenerator(nn.Module):
    """A Pix2Pix-style U-Net generator (Isola et al., 2017), scaled to
    32 x 32 images: three strided 4x4 convolutions down (LeakyReLU 0.2,
    batch norm after the first), three 4x4 transposed convolutions up
    (batch norm, ReLU), each concatenated with the encoder's features of
    its size, and a tanh image in [-1, 1]."""

    def __init__(self, channels=1, width=16):
        super().__init__()
        w = width

        def down(cin, cout, norm=True):
            layers = [nn.Conv2d(cin, cout, 4, stride=2, padding=1, bias=not norm)]
            if norm:
                layers.append(nn.BatchNorm2d(cout))
            return nn.Sequential(*layers, nn.LeakyReLU(0.2))

        def up(cin, cout):
            return nn.Sequential(nn.ConvTranspose2d(cin, cout, 4, stride=2, padding=1, bias=False),
                                 nn.BatchNorm2d(cout), nn.ReLU())

        self.down1 = down(channels, w, norm=False)   # 16 x 16
        self.down2 = down(w, 2 * w)                  # 8 x 8
        self.down3 = down(2 * w, 4 * w)              # 4 x 4
        self.up3 = up(4 * w, 2 * w)                  # 8 x 8
        self.up2 = up(4 * w, w)                      # 16 x 16
        self.up1 = nn.ConvTranspose2d(2 * w, channels, 4, stride=2, padding=1)

    def forward(self, x):
        d1 = self.down1(x)
        d2 = self.down2(d1)
        d3 = self.down3(d2)
        u3 = self.up3(d3)
        u2 = self.up2(torch.cat([u3, d2], 1))
        return torch.tanh(self.up1(torch.cat([u2, d1], 1)))


class PatchDiscriminator(nn.Module):
    """Pix2Pix's PatchGAN discriminator, scaled to 32 x 32 pairs: the input
    image and a real or generated output, concatenated, to an 8 x 8 map of
    real-or-fake logits, one per overlapping patch. Instance norm (the
    original's batch norm at batch size 1) keeps each pair's statistics its
    own, so real and generated pairs can share one batch."""

    def __init__(self, channels=1, width=16):
        super().__init__()
        w = width
        self.net = nn.Sequential(
            nn.Conv2d(2 * channels, w, 4, stride=2, padding=1), nn.LeakyReLU(0.2),   # 16
            nn.Conv2d(w, 2 * w, 4, stride=2, padding=1, bias=False),                 # 8
            nn.InstanceNorm2d(2 * w, affine=True), nn.LeakyReLU(0.2),
            nn.Conv2d(2 * w, 1, 3, padding=1))

    def forward(self, pairs):
        return self.net(pairs)


class DetectionNet(nn.Module):
    """An anchor-free single-scale detector: a MobileNetV2 backbone (a
    strided Conv+BN+ReLU6 stem and inverted residuals down to 1/8 of the
    input) and an SSDLite-style separable prediction head (a depthwise 3x3
    Conv+BN+ReLU6, then a 1x1 convolution), which gives, per cell of the
    1/8 grid, `num_classes` class logits and 4 box values
    (qat_mlir.detection's layout). The class biases start at
    -log((1 - 0.01) / 0.01), a 1% prior score, as RetinaNet's, so that the
    focal loss of the many empty cells does not swamp the first steps."""

    def __init__(self, num_classes=10, in_channels=1, width=16):
        super().__init__()
        w = width
        self.num_classes = num_classes
        self.backbone = nn.Sequential(
            ConvBNActivation(in_channels, w, stride=2),                          # 1/2
            InvertedResidual(w, 2 * w, 2, 4), InvertedResidual(2 * w, 2 * w, 1, 4),  # 1/4
            InvertedResidual(2 * w, 4 * w, 2, 4), InvertedResidual(4 * w, 4 * w, 1, 4),  # 1/8
            InvertedResidual(4 * w, 4 * w, 1, 4))
        self.head = nn.Sequential(ConvBNActivation(4 * w, 4 * w, groups=4 * w),
                                  nn.Conv2d(4 * w, num_classes + 4, 1))
        with torch.no_grad():
            self.head[1].bias[:num_classes].fill_(-math.log((1 - 0.01) / 0.01))

    def forward(self, x):
        return self.head(self.backbone(x))


class DetectionLoss(nn.Module):
    """The loss of DetectionNet's outputs against targets of the same layout
    (qat_mlir.detection.encode): the sigmoid focal loss (Lin et al., 2017;
    alpha 0.25, gamma 2) of the class logits over every cell and class,
    plus the smooth L1 loss (beta 1/9, as torchvision's RetinaNet) of the
    box values at the cells that hold a box, both divided by the number of
    such cells in the batch plus one (which keeps a batch with no box
    finite)."""

    def __init__(self, num_classes=10, alpha=0.25):
        super().__init__()
        self.num_classes = num_classes
        self.alpha = alpha

    def forward(self, outputs, targets):
        c = self.num_classes
        logits, boxes = outputs[:, :c], outputs[:, c:]
        classes, true_boxes = targets[:, :c], targets[:, c:]
        probability = torch.sigmoid(logits)
        cross_entropy = F.binary_cross_entropy_with_logits(logits, classes, reduction="none")
        miss = 1 - (probability * classes + (1 - probability) * (1 - classes))
        weight = self.alpha * classes + (1 - self.alpha) * (1 - classes)
        focal = (weight * miss * miss * cross_entropy).sum()
        positive = classes.sum(1, keepdim=True)
        regression = (F.smooth_l1_loss(boxes, true_boxes, reduction="none", beta=1 / 9)
                      * positive).sum()
        return (focal + regression) / (positive.sum() + 1)
