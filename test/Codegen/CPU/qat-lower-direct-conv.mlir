// RUN: qat-opt --qat-lower-direct-conv %s | FileCheck %s
// RUN: qat-opt --qat-lower-to-llvm %s | mlir-translate --mlir-to-llvmir | llc -O3 -mtriple=x86_64-unknown-linux-gnu -mcpu=x86-64-v4 | FileCheck %s --check-prefix=ASM
// RUN: qat-opt --qat-lower-to-llvm="vector-bits=256 vector-registers=16" %s | mlir-translate --mlir-to-llvmir | llc -O3 -mtriple=x86_64-unknown-linux-gnu -mcpu=x86-64-v3 | FileCheck %s --check-prefix=AVX2-ASM
// RUN: not qat-opt "--qat-lower-direct-conv=vector-registers=1000" %s 2>&1 | FileCheck %s --check-prefix=REGISTERS
// REGISTERS: error: --qat-lower-direct-conv: vector-registers must be 8 to 64, not 1000
// With AVX2's 16 ymm registers the forward and input-gradient blocks hold
// 4 rows (8 ymm) instead of 16 (32 ymm): no accumulator spilled.
// AVX2-ASM-LABEL: forward_kernel_0:
// AVX2-ASM-NOT:     32-byte Spill
// AVX2-ASM-LABEL: forward:
// AVX2-ASM-LABEL: input_gradient_kernel_0:
// AVX2-ASM-NOT:     32-byte Spill
// AVX2-ASM-LABEL: input_gradient:

#image = affine_map<(n, f, oh, ow, c, kh, kw) -> (n, c, oh + kh, ow + kw)>
#filter = affine_map<(n, f, oh, ow, c, kh, kw) -> (f, c, kh, kw)>
#output = affine_map<(n, f, oh, ow, c, kh, kw) -> (n, f, oh, ow)>

// The forward convolution: per image and output row, 16 filters' rows of
// 14 lanes accumulate in registers from the output; per input channel,
// the 9 taps are masked loads of the image row at column offsets 0, 1, 2,
// each multiplied into every filter's row by its broadcast weight.
// CHECK-LABEL: func @forward
// CHECK-SAME:    (%[[X:.*]]: memref<2x16x16x16xf32>, %[[W:.*]]: memref<32x16x3x3xf32>, %[[Y:.*]]: memref<2x32x14x14xf32>)
// CHECK:         scf.for %[[N:.*]] =
// CHECK:           scf.for %[[OH:.*]] =
// CHECK:             scf.for %[[F0:.*]] = %{{.*}} to %{{.*}} step %c16
// CHECK:               vector.constant_mask [14] : vector<16xi1>
// CHECK-COUNT-16:      vector.maskedload %[[Y]]
// CHECK:               scf.for %[[C:.*]] = {{.*}} iter_args
// CHECK:                 vector.maskedload %[[X]][%[[N]], %[[C]], %[[OH]], %{{.*}}]
// CHECK:                 memref.load %[[W]][%[[F0]], %[[C]], %{{.*}}, %{{.*}}]
// CHECK:                 vector.broadcast
// CHECK:                 vector.fma
// CHECK-COUNT-143:       vector.fma
// CHECK:                 scf.yield
// CHECK-COUNT-16:      vector.maskedstore %[[Y]]
// CHECK-NOT:     linalg.conv_2d_nchw_fchw
// The hot loop: masked loads of image rows, multiply-adds with broadcast
// weights from memory, on zmm registers.
// ASM-LABEL: forward_kernel_0:
// ASM:         vmovups {{.*}}, %zmm{{[0-9]+}} {%k{{[0-9]}}} {z}
// ASM:         vfmadd231ps {{.*}}{1to16}, %zmm{{[0-9]+}}, %zmm{{[0-9]+}}
// ASM-LABEL: forward:
func.func @forward(%x: memref<2x16x16x16xf32>, %w: memref<32x16x3x3xf32>, %y: memref<2x32x14x14xf32>) {
  linalg.conv_2d_nchw_fchw {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>} ins(%x, %w : memref<2x16x16x16xf32>, memref<32x16x3x3xf32>) outs(%y : memref<2x32x14x14xf32>)
  return
}

// The input gradient (scatter form): per image and image row y, 16
// channels' rows of 16 lanes accumulate; per filter, the row taps kh with
// 0 <= y - kh < 14 load g's row y - kh once and shift it right by 1 and 2
// lanes for the column taps (a shuffle with zeros: lanes 14, 15 of the
// first operand).
// CHECK-LABEL: func @input_gradient
// CHECK-SAME:    (%[[G:.*]]: memref<2x32x14x14xf32>, %[[W:.*]]: memref<32x16x3x3xf32>, %[[DX:.*]]: memref<2x16x16x16xf32>)
// CHECK:         scf.for %[[N:.*]] =
// CHECK:           scf.for %[[Y:.*]] =
// CHECK:             scf.for
// CHECK-COUNT-16:      vector.load %[[DX]]
// CHECK:               %[[LOW:.*]] = arith.subi %[[Y]], %c13
// CHECK:               %[[FIRST:.*]] = arith.maxsi %{{.*}}, %[[LOW]]
// CHECK:               %[[HIGH:.*]] = arith.addi %[[Y]], %c1
// CHECK:               %[[LAST:.*]] = arith.minsi %c3{{.*}}, %[[HIGH]]
// CHECK:               scf.for %[[F:.*]] = {{.*}} iter_args
// CHECK:                 scf.for %[[KH:.*]] = %[[FIRST]] to %[[LAST]]
// CHECK:                   %[[OH:.*]] = arith.subi %[[Y]], %[[KH]]
// CHECK:                   %[[ROW:.*]] = vector.maskedload %[[G]][%[[N]], %[[F]], %[[OH]], %{{.*}}]
// CHECK-COUNT-16:          vector.fma %{{.*}}, %[[ROW]]
// CHECK:                   vector.shuffle %{{.*}}, %[[ROW]] [15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30]
// CHECK-COUNT-16:          vector.fma
// CHECK:                   vector.shuffle %{{.*}}, %[[ROW]] [14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29]
// CHECK-COUNT-16:          vector.fma
// CHECK:                   scf.yield
// CHECK-COUNT-16:      vector.store %{{.*}}, %[[DX]]
// CHECK-NOT:     linalg.generic
func.func @input_gradient(%g: memref<2x32x14x14xf32>, %w: memref<32x16x3x3xf32>, %dx: memref<2x16x16x16xf32>) {
  linalg.generic {indexing_maps = [#output, #filter, #image], iterator_types = ["parallel", "reduction", "reduction", "reduction", "parallel", "reduction", "reduction"]} ins(%g, %w : memref<2x32x14x14xf32>, memref<32x16x3x3xf32>) outs(%dx : memref<2x16x16x16xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %p : f32
    linalg.yield %r : f32
  }
  return
}

// The weight gradient: for two filters and one channel, 2 x 9 lane-wise
// sums over (n, oh) of g's row times the image row at the tap's offset;
// then each is summed across its lanes and added to the filter element.
// 3 filters: one pair in the loop, then the last one alone (9 sums).
// CHECK-LABEL: func @weight_gradient
// CHECK-SAME:    (%[[X:.*]]: memref<2x16x16x16xf32>, %[[G:.*]]: memref<2x3x14x14xf32>, %[[DW:.*]]: memref<3x16x3x3xf32>)
// CHECK:         scf.for %[[F0:.*]] = %{{.*}} to %c2{{.*}} step %c2
// CHECK:           scf.for %[[C:.*]] =
// CHECK:             scf.for %[[N:.*]] = {{.*}} iter_args
// CHECK:               scf.for %[[OH:.*]] = {{.*}} iter_args
// CHECK:                 %[[G0:.*]] = vector.maskedload %[[G]][%[[N]], %[[F0]], %[[OH]], %{{.*}}]
// CHECK:                 %[[G1:.*]] = vector.maskedload %[[G]]
// CHECK:                 %[[TAP:.*]] = vector.maskedload %[[X]][%[[N]], %[[C]], %[[OH]], %{{.*}}]
// CHECK:                 vector.fma %[[G0]], %[[TAP]]
// CHECK:                 vector.fma %[[G1]], %[[TAP]]
// CHECK-COUNT-16:        vector.fma
// CHECK:                 scf.yield
// CHECK-COUNT-18:    vector.reduction <add>
// CHECK:         scf.for %[[C:.*]] =
// CHECK:           scf.for
// CHECK:             scf.for
// CHECK-COUNT-9:         vector.fma
// CHECK-COUNT-9:     vector.reduction <add>
// CHECK-NOT:     linalg.generic
func.func @weight_gradient(%x: memref<2x16x16x16xf32>, %g: memref<2x3x14x14xf32>, %dw: memref<3x16x3x3xf32>) {
  linalg.generic {indexing_maps = [#image, #output, #filter], iterator_types = ["reduction", "parallel", "reduction", "reduction", "parallel", "parallel", "parallel"]} ins(%x, %g : memref<2x16x16x16xf32>, memref<2x3x14x14xf32>) outs(%dw : memref<3x16x3x3xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %p : f32
    linalg.yield %r : f32
  }
  return
}

// A thread's share of an odd batch is dynamic: the image loop runs to the
// buffer's size. Filters in a dynamic count go in blocks of 16, then one
// at a time.
// CHECK-LABEL: func @dynamic_sizes
// CHECK:         %[[N:.*]] = memref.dim %{{.*}}, %c0
// CHECK:         scf.for %{{.*}} = %{{.*}} to %[[N]]
// CHECK:         %[[F:.*]] = memref.dim %{{.*}}, %c1
// CHECK:         %[[BLOCKS:.*]] = arith.divui %[[F]], %c16
// CHECK:         %[[FULL:.*]] = arith.muli %[[BLOCKS]], %c16
// CHECK:         scf.for %{{.*}} = %{{.*}} to %[[FULL]] step %c16
// CHECK:         scf.for %{{.*}} = %[[FULL]] to %[[F]] step %c1
func.func @dynamic_sizes(%x: memref<?x16x16x16xf32>, %w: memref<?x16x3x3xf32>, %y: memref<?x?x14x14xf32>) {
  linalg.conv_2d_nchw_fchw {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>} ins(%x, %w : memref<?x16x16x16xf32>, memref<?x16x3x3xf32>) outs(%y : memref<?x?x14x14xf32>)
  return
}

// Rows of two vectors (the small CNN's conv1: 28 = 16 + 12 lanes): 8
// filters per block, each with two accumulators.
// CHECK-LABEL: func @two_vector_rows
// CHECK:         scf.for %{{.*}} = %{{.*}} to %{{.*}} step %c8
// CHECK-COUNT-8: vector.load %{{.*}} : memref<2x16x28x28xf32>, vector<16xf32>
// CHECK:         scf.for {{.*}} iter_args
// CHECK:           vector.load %{{.*}}[%{{.*}}, %{{.*}}, %{{.*}}, %c0{{.*}}] : memref<2x1x30x30xf32>
// CHECK:           vector.maskedload %{{.*}}[%{{.*}}, %{{.*}}, %{{.*}}, %c16{{.*}}], %{{.*}} : memref<2x1x30x30xf32>
// CHECK-COUNT-16:  vector.fma
func.func @two_vector_rows(%x: memref<2x1x30x30xf32>, %w: memref<16x1x3x3xf32>, %y: memref<2x16x28x28xf32>) {
  linalg.conv_2d_nchw_fchw {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>} ins(%x, %w : memref<2x1x30x30xf32>, memref<16x1x3x3xf32>) outs(%y : memref<2x16x28x28xf32>)
  return
}

// Left to the GEMM path: rows longer than two vectors, stride 2, a 1x1
// window, output rows that fill less than 3/4 of their vector.
// CHECK-LABEL: func @stays
// CHECK-COUNT-4: linalg.conv_2d_nchw_fchw
func.func @stays(%x28: memref<2x1x42x42xf32>, %w1: memref<16x1x3x3xf32>, %y28: memref<2x16x40x40xf32>,
                 %x16: memref<2x16x16x16xf32>, %w3: memref<32x16x3x3xf32>, %y7: memref<2x32x7x7xf32>,
                 %w11: memref<32x16x1x1xf32>, %y16: memref<2x32x16x16xf32>,
                 %x9: memref<2x16x9x9xf32>) {
  linalg.conv_2d_nchw_fchw {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>} ins(%x28, %w1 : memref<2x1x42x42xf32>, memref<16x1x3x3xf32>) outs(%y28 : memref<2x16x40x40xf32>)
  linalg.conv_2d_nchw_fchw {dilations = dense<1> : tensor<2xi64>, strides = dense<2> : tensor<2xi64>} ins(%x16, %w3 : memref<2x16x16x16xf32>, memref<32x16x3x3xf32>) outs(%y7 : memref<2x32x7x7xf32>)
  linalg.conv_2d_nchw_fchw {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>} ins(%x16, %w11 : memref<2x16x16x16xf32>, memref<32x16x1x1xf32>) outs(%y16 : memref<2x32x16x16xf32>)
  linalg.conv_2d_nchw_fchw {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>} ins(%x9, %w3 : memref<2x16x9x9xf32>, memref<32x16x3x3xf32>) outs(%y7 : memref<2x32x7x7xf32>)
  return
}

// A zero fill right before the convolution on its accumulated buffer goes:
// the rows start from zero vectors instead of being read back.
// CHECK-LABEL: func @zero_filled
// CHECK-NOT:     linalg.fill
// CHECK-NOT:     vector.maskedload %[[Y:.*]][%{{.*}}] : memref<2x32x14x14xf32>
// CHECK:         %[[ZEROS:.*]] = arith.constant dense<0.000000e+00> : vector<16xf32>
// CHECK:         scf.for {{.*}} iter_args(%{{.*}} = %[[ZEROS]],
// CHECK-COUNT-16: vector.maskedstore
func.func @zero_filled(%x: memref<2x16x16x16xf32>, %w: memref<32x16x3x3xf32>, %y: memref<2x32x14x14xf32>) {
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%y : memref<2x32x14x14xf32>)
  linalg.conv_2d_nchw_fchw {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>} ins(%x, %w : memref<2x16x16x16xf32>, memref<32x16x3x3xf32>) outs(%y : memref<2x32x14x14xf32>)
  return
}
