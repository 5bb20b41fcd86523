// qat-compile rejects what it cannot compile with a located error, exit 1
// and no output file.
//
// RUN: rm -rf %t && mkdir -p %t
// RUN: not qat-compile %s --target=sparc -o %t/out.o 2>&1 | FileCheck %s --check-prefix=TARGET
// TARGET: error: unknown target 'sparc' (qat-compile --print-targets lists them)
// RUN: not qat-compile %s --name=my-model -o %t/name.o 2>&1 | FileCheck %s --check-prefix=NAME
// NAME: error: --name 'my-model' is not a C identifier
// RUN: not test -e %t/name.o
// RUN: cp %s %t/self.mlir && not qat-compile %t/self.mlir --function=sigmoid -o %t/self.mlir 2>&1 | FileCheck %s --check-prefix=SELF
// SELF: error: -o '{{.*}}self.mlir' is the input module; write the output to another file
// RUN: cmp %s %t/self.mlir
// RUN: not qat-compile %s 2>&1 | FileCheck %s --check-prefix=OUTPUT
// OUTPUT: error: no output file given (-o)
// RUN: not qat-compile %s --function=fp32 -o %t/fp32.o 2>&1 | FileCheck %s --check-prefix=FLOAT
// FLOAT: errors.mlir:{{[0-9]+}}:1: error: --qat-fold-quant: 'fp32' quantizes nothing: a model not prepared for QAT, or with all its fake quantization disabled (qat-compile --keep-float compiles it in float)
// FLOAT-NOT: remark
// RUN: not qat-compile %s --function=sigmoid --strict-int8 -o %t/strict.o 2>&1 | FileCheck %s --check-prefix=STRICT
// STRICT: errors.mlir:{{[0-9]+}}:8: error: --qat-fold-quant: 'tosa.sigmoid' computes in float on the way from the input to the outputs and has no integer form
// RUN: not test -e %t/strict.o
// RUN: qat-compile %s --function=sigmoid --emit=header -o %t/sigmoid.h 2>&1 | FileCheck %s --check-prefix=ISLAND
// ISLAND: errors.mlir:{{[0-9]+}}:8: remark: --qat-fold-quant: 1 op computes in float between quantized values (1 tosa.sigmoid); the first is here
// RUN: FileCheck %s --check-prefix=ISLAND-HEADER < %t/sigmoid.h
// ISLAND-HEADER: Inside, 1 op computes in float between quantized values (no integer form);
// RUN: not qat-compile %s --function=overflow -o %t/overflow.o 2>&1 | FileCheck %s --check-prefix=OVERFLOW
// OVERFLOW: errors.mlir:{{[0-9]+}}:10: error: int32 accumulation could overflow: output channel 0 has sum |w| = 8890000 and |bias| = 0, so |accumulator| may reach 2266950000 >= 2^31 (inputs |code - zero_point| <= 255)
// RUN: not qat-compile %s --function=big_bias -o %t/big_bias.o 2>&1 | FileCheck %s --check-prefix=BIAS
// BIAS: errors.mlir:{{[0-9]+}}:10: error: the int32 bias of output channel 0 is out of range (2147483648): the trained bias divided by the input and weight scales does not fit 32 bits
// RUN: not test -e %t/big_bias.o
// RUN: not qat-compile %s --function=untrained -o %t/untrained.o 2>&1 | FileCheck %s --check-prefix=UNTRAINED
// UNTRAINED: error: state 'fc.weight' has no trained value in the module (an ml_program.global of that name and type 'tensor<4x4xf32>')
// RUN: not qat-compile %s --function=missing -o %t/missing.o 2>&1 | FileCheck %s --check-prefix=MISSING
// MISSING: error: --qat-fold-quant: no function 'missing'
// RUN: not qat-compile %s --function=overflow --batch=0 -o %t/batch.o 2>&1 | FileCheck %s --check-prefix=BATCH
// BATCH: error: --qat-rebatch: the batch size must be positive, not 0
// RUN: not test -e %t/out.o
// RUN: not test -e %t/batch.o
// RUN: not test -e %t/fp32.o
// RUN: not test -e %t/overflow.o
// RUN: not test -e %t/untrained.o
// RUN: qat-compile --print-targets | FileCheck %s --check-prefix=TARGETS
// TARGETS: x86_64-avx512vnni
// TARGETS: x86_64-avxvnni
// TARGETS: x86_64-avx2
// TARGETS: x86_64-generic
// TARGETS: aarch64-dotprod
// TARGETS: aarch64-generic
// `host` is the best target this CPU runs: one line marks it. A CPU acting as
// one with fewer features (QAT_HOST_FEATURES) gets AVX2's or the generic one.
// RUN: qat-compile --print-targets | grep -c '^host ' | FileCheck %s --check-prefix=ONE-HOST
// ONE-HOST: 1
// RUN: env QAT_HOST_FEATURES=avx,avx2,fma,bmi,bmi2,f16c,lzcnt,movbe qat-compile --print-targets | FileCheck %s --check-prefix=AVX2-HOST
// AVX2-HOST:      x86_64-avx512vnni {{.*}} [this CPU lacks avx512f]
// AVX2-HOST-NEXT: x86_64-avxvnni {{.*}} [this CPU lacks avxvnni]
// AVX2-HOST-NEXT: host  x86_64-avx2
// AVX2-HOST-NEXT: runs  x86_64-generic
// AVX2-HOST-NEXT: cross aarch64-dotprod
// RUN: env QAT_HOST_FEATURES=sse2 qat-compile --print-targets | FileCheck %s --check-prefix=GENERIC-HOST
// GENERIC-HOST: x86_64-avx2 {{.*}} [this CPU lacks avx]
// GENERIC-HOST: host  x86_64-generic

ml_program.global private @conv.weight(dense<0.5> : tensor<2x1x1x1xf32>) : tensor<2x1x1x1xf32>

// An fp32 model: nothing is quantized.
func.func @fp32(%x: tensor<1x1x2x2xf32> {qat.input = "x"}, %w: tensor<2x1x1x1xf32> {qat.state = "conv.weight"}) -> tensor<1x2x2x2xf32> {
  %init = tensor.empty() : tensor<1x2x2x2xf32>
  %conv = linalg.conv_2d_nchw_fchw ins(%x, %w : tensor<1x1x2x2xf32>, tensor<2x1x1x1xf32>) outs(%init : tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32>
  return %conv : tensor<1x2x2x2xf32>
}

// A sigmoid between two quantized values: float in between, or an error
// with --strict-int8.
ml_program.global private @s(dense<0.05> : tensor<f32>) : tensor<f32>
ml_program.global private @z(dense<0> : tensor<i32>) : tensor<i32>
func.func @sigmoid(%x: tensor<1x4xf32> {qat.input = "x"}, %s: tensor<f32> {qat.state = "s"}, %z: tensor<i32> {qat.state = "z"}) -> tensor<1x4xf32> {
  %xq = qat.fake_quant %x, %s, %z to ui8[0 : 255] : tensor<1x4xf32>, tensor<f32>, tensor<i32>
  %y = tosa.sigmoid %xq : (tensor<1x4xf32>) -> tensor<1x4xf32>
  %yq = qat.fake_quant %y, %s, %z to ui8[0 : 255] : tensor<1x4xf32>, tensor<f32>, tensor<i32>
  return %yq : tensor<1x4xf32>
}

// 70,000 products of 127 and up to 255 cannot fit in an i32 accumulator.
func.func @overflow_int8(%x: tensor<1x1x70000xf32> {qat.input = "x"}) -> tensor<1x1x1xf32> {
  %s = arith.constant dense<0.1> : tensor<f32>
  %z = arith.constant dense<0> : tensor<i32>
  %q = qat.quantize %x, %s, %z to ui8[0 : 255] : tensor<1x1x70000xf32>, tensor<f32>, tensor<i32> -> tensor<1x1x70000xi32>
  %w = arith.constant dense<127> : tensor<1x70000x1xi32>
  %zero = arith.constant 0 : i32
  %init = tensor.empty() : tensor<1x1x1xi32>
  %fill = linalg.fill ins(%zero : i32) outs(%init : tensor<1x1x1xi32>) -> tensor<1x1x1xi32>
  %acc = linalg.batch_matmul ins(%q, %w : tensor<1x1x70000xi32>, tensor<1x70000x1xi32>) outs(%fill : tensor<1x1x1xi32>) -> tensor<1x1x1xi32>
  %y = qat.dequantize %acc, %s, %z : tensor<1x1x1xi32>, tensor<f32>, tensor<i32> -> tensor<1x1x1xf32>
  return %y : tensor<1x1x1xf32>
}

// The weights fit 8 bits (stored as i8 and widened, still checked); the
// bias is what a float bias of 1e30 becomes when converted to i32.
func.func @big_bias_int8(%x: tensor<1x1x2xf32> {qat.input = "x"}) -> tensor<1x1xf32> {
  %s = arith.constant dense<0.1> : tensor<f32>
  %z = arith.constant dense<0> : tensor<i32>
  %q = qat.quantize %x, %s, %z to ui8[0 : 255] : tensor<1x1x2xf32>, tensor<f32>, tensor<i32> -> tensor<1x1x2xi32>
  %w = arith.constant dense<[[[1], [2]]]> : tensor<1x2x1xi32>
  %zero = arith.constant 0 : i32
  %init = tensor.empty() : tensor<1x1x1xi32>
  %fill = linalg.fill ins(%zero : i32) outs(%init : tensor<1x1x1xi32>) -> tensor<1x1x1xi32>
  %acc = linalg.batch_matmul ins(%q, %w : tensor<1x1x2xi32>, tensor<1x2x1xi32>) outs(%fill : tensor<1x1x1xi32>) -> tensor<1x1x1xi32>
  %shape = tosa.const_shape {values = dense<[1, 1]> : tensor<2xindex>} : () -> !tosa.shape<2>
  %rows = tosa.reshape %acc, %shape : (tensor<1x1x1xi32>, !tosa.shape<2>) -> tensor<1x1xi32>
  %bias = arith.constant dense<-2147483648> : tensor<1x1xi32>
  %sum = tosa.add %rows, %bias : (tensor<1x1xi32>, tensor<1x1xi32>) -> tensor<1x1xi32>
  %y = qat.dequantize %sum, %s, %z : tensor<1x1xi32>, tensor<f32>, tensor<i32> -> tensor<1x1xf32>
  return %y : tensor<1x1xf32>
}

// A state argument with no global holding its trained value.
func.func @untrained_int8(%x: tensor<4x4xf32> {qat.input = "x"}, %w: tensor<4x4xf32> {qat.state = "fc.weight"}) -> tensor<4x4xf32> {
  %y = tosa.add %x, %w : (tensor<4x4xf32>, tensor<4x4xf32>) -> tensor<4x4xf32>
  return %y : tensor<4x4xf32>
}
