// RUN: qat-opt --qat-vectorize-elementwise %s | FileCheck %s

#id = affine_map<(n, c, w) -> (n, c, w)>
#channel = affine_map<(n, c, w) -> (c)>
#scalar = affine_map<(n, c, w) -> ()>
#transposed = affine_map<(n, c, w) -> (n, w, c)>

// Fake quantization with a per-channel scale: loops over n and c, the
// per-channel and 0-d operands loaded once per row (and broadcast where a
// lane-wise op uses them), the 40-element rows as two full 16-lane chunks
// and one chunk of 8 under a mask. What is the same in every lane (the
// zero-point's conversion) stays a scalar; constants and values from
// outside the body are broadcast.
// CHECK-LABEL: func.func @fake_quant
// CHECK-SAME:    (%[[X:.*]]: memref<2x3x40xf32>, %[[S:.*]]: memref<3xf32>, %[[Z:.*]]: memref<i32>, %[[Y:.*]]: memref<2x3x40xf32>, %[[HI:.*]]: f32)
// CHECK-NOT:     linalg.generic
// CHECK:         scf.for %[[N:.*]] =
// CHECK:           scf.for %[[C:.*]] =
// CHECK:             %[[SCALE:.*]] = memref.load %[[S]][%[[C]]]
// CHECK:             %[[SCALEV:.*]] = vector.broadcast %[[SCALE]] : f32 to vector<16xf32>
// CHECK:             %[[ZERO:.*]] = memref.load %[[Z]][]
// CHECK-NOT:           vector.broadcast %[[ZERO]]
// CHECK:             scf.for %[[W:.*]] = %{{.*}} to %[[C32:.*]] step %[[C16:.*]] {
// CHECK:               %[[LOAD:.*]] = vector.load %[[X]][%[[N]], %[[C]], %[[W]]] : memref<2x3x40xf32>, vector<16xf32>
// CHECK:               %[[MUL:.*]] = arith.mulf %[[LOAD]], %[[SCALEV]] : vector<16xf32>
// CHECK:               %[[ROUND:.*]] = math.roundeven %[[MUL]] : vector<16xf32>
// CHECK:               %[[SHIFT:.*]] = arith.sitofp %[[ZERO]] : i32 to f32
// CHECK:               %[[SHIFTV:.*]] = vector.broadcast %[[SHIFT]] : f32 to vector<16xf32>
// CHECK:               %[[ADD:.*]] = arith.addf %[[ROUND]], %[[SHIFTV]] : vector<16xf32>
// CHECK:               %[[HIV:.*]] = vector.broadcast %[[HI]] : f32 to vector<16xf32>
// CHECK:               %[[MIN:.*]] = arith.minimumf %[[ADD]], %[[HIV]] : vector<16xf32>
// CHECK:               %[[LOW:.*]] = arith.constant -1.280000e+02 : f32
// CHECK:               %[[LOWV:.*]] = vector.broadcast %[[LOW]] : f32 to vector<16xf32>
// CHECK:               %[[MAX:.*]] = arith.maximumf %[[MIN]], %[[LOWV]] : vector<16xf32>
// CHECK:               vector.store %[[MAX]], %[[Y]][%[[N]], %[[C]], %[[W]]] : memref<2x3x40xf32>, vector<16xf32>
// CHECK:             }
// CHECK:             %[[MASK:.*]] = vector.create_mask %{{.*}} : vector<16xi1>
// CHECK:             %[[TAIL:.*]] = vector.maskedload %[[X]][%[[N]], %[[C]], %{{.*}}], %[[MASK]], %{{.*}} : memref<2x3x40xf32>, vector<16xi1>, vector<16xf32> into vector<16xf32>
// CHECK:             arith.mulf %[[TAIL]], %[[SCALEV]]
// CHECK:             vector.maskedstore %[[Y]][%[[N]], %[[C]], %{{.*}}], %[[MASK]], %{{.*}} : memref<2x3x40xf32>, vector<16xi1>, vector<16xf32>
func.func @fake_quant(%x: memref<2x3x40xf32>, %s: memref<3xf32>, %z: memref<i32>, %y: memref<2x3x40xf32>, %hi: f32) {
  linalg.generic {indexing_maps = [#id, #channel, #scalar, #id], iterator_types = ["parallel", "parallel", "parallel"]} ins(%x, %s, %z : memref<2x3x40xf32>, memref<3xf32>, memref<i32>) outs(%y : memref<2x3x40xf32>) {
  ^bb0(%a: f32, %scale: f32, %zero: i32, %out: f32):
    %0 = arith.mulf %a, %scale : f32
    %1 = math.roundeven %0 : f32
    %2 = arith.sitofp %zero : i32 to f32
    %3 = arith.addf %1, %2 : f32
    %4 = arith.minimumf %3, %hi : f32
    %low = arith.constant -128.0 : f32
    %5 = arith.maximumf %4, %low : f32
    linalg.yield %5 : f32
  }
  return
}

// A strided view (a thread's slice) with a unit innermost stride, rows of
// exactly 16, contiguous across its last two dimensions: one row of 64
// per slice, no masked chunk.
// CHECK-LABEL: func.func @slice
// CHECK:         memref.collapse_shape %{{.*}} {{\[}}[0], [1, 2]] : memref<2x4x16xf32, strided<[128, 16, 1], offset: ?>> into memref<2x64xf32, strided<[128, 1], offset: ?>>
// CHECK:         scf.for %{{.*}} = %c0{{.*}} to %c64{{.*}} step %c16
// CHECK:         vector.load {{.*}} : memref<2x64xf32, strided<[128, 1], offset: ?>>, vector<16xf32>
// CHECK:         arith.negf {{.*}} : vector<16xf32>
// CHECK:         vector.store
// CHECK-NOT:     vector.create_mask
func.func @slice(%x: memref<2x4x16xf32, strided<[128, 16, 1], offset: ?>>, %y: memref<2x4x16xf32>) {
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel"]} ins(%x : memref<2x4x16xf32, strided<[128, 16, 1], offset: ?>>) outs(%y : memref<2x4x16xf32>) {
  ^bb0(%a: f32, %out: f32):
    %0 = arith.negf %a : f32
    linalg.yield %0 : f32
  }
  return
}

// Packing copies: a transpose whose output ends in a unit dimension runs
// along the last loop longer than 1, the unit dimension folded into it; a
// fill broadcasts its value, along its two loops merged into one.
// CHECK-LABEL: func.func @pack_copy
// CHECK-SAME:    (%[[IN:.*]]: memref<5x1x3x16xf32>, %[[OUT:.*]]: memref<3x5x16x1xf32>, %[[V:.*]]: f32, %[[F:.*]]: memref<2x32xf32>)
// CHECK:         %[[FLAT:.*]] = memref.collapse_shape %[[OUT]] {{\[\[}}0], [1], [2, 3]] : memref<3x5x16x1xf32> into memref<3x5x16xf32>
// CHECK:         scf.for %[[K:.*]] =
// CHECK:           scf.for %[[M:.*]] =
// CHECK:             scf.for %[[I:.*]] =
// CHECK:               %[[LOAD:.*]] = vector.load %[[IN]][%[[M]], %{{.*}}, %[[K]], %[[I]]] : memref<5x1x3x16xf32>, vector<16xf32>
// CHECK:               vector.store %[[LOAD]], %[[FLAT]][%[[K]], %[[M]], %[[I]]] : memref<3x5x16xf32>, vector<16xf32>
// CHECK:         %[[FLATF:.*]] = memref.collapse_shape %[[F]] {{\[\[}}0, 1]] : memref<2x32xf32> into memref<64xf32>
// CHECK:         %[[SPLAT:.*]] = vector.broadcast %[[V]] : f32 to vector<16xf32>
// CHECK:         scf.for %[[J:.*]] = %c0{{.*}} to %c64
// CHECK:           vector.store %[[SPLAT]], %[[FLATF]][%[[J]]] : memref<64xf32>, vector<16xf32>
// CHECK-NOT:     linalg.
func.func @pack_copy(%in: memref<5x1x3x16xf32>, %out: memref<3x5x16x1xf32>, %v: f32, %f: memref<2x32xf32>) {
  linalg.transpose ins(%in : memref<5x1x3x16xf32>) outs(%out : memref<3x5x16x1xf32>) permutation = [2, 0, 3, 1]
  linalg.fill ins(%v : f32) outs(%f : memref<2x32xf32>)
  return
}

// A depthwise convolution with ow innermost: the reduction loops (kh, kw)
// come right before the vector loop, so each output chunk stays in a
// register through them (loaded once, stored once; each element still sums
// kh, kw in order). A row of 20 has one full chunk (at 0), then the tail. The weight is loaded per (kh, kw) and broadcast, the
// input row starts at ow + kw (an affine.apply of the loops).
// CHECK-LABEL: func.func @depthwise
// CHECK-SAME:    (%[[X:.*]]: memref<2x4x22x22xf32>, %[[W:.*]]: memref<4x3x3xf32>, %[[Y:.*]]: memref<2x4x20x20xf32>)
// CHECK:         scf.for %[[N:.*]] =
// CHECK:           scf.for %[[C:.*]] =
// CHECK:             scf.for %[[OH:.*]] =
// CHECK:               %[[OW:c0_[0-9]+]] = arith.constant 0 : index
// CHECK:                 %[[INIT:.*]] = vector.load %[[Y]][%[[N]], %[[C]], %[[OH]], %[[OW]]]
// CHECK:                 %[[SUM:.*]] = scf.for %[[KH:.*]] = {{.*}} iter_args(%[[ACC_KH:.*]] = %[[INIT]]) -> (vector<16xf32>)
// CHECK:                   scf.for %[[KW:.*]] = {{.*}} iter_args(%[[ACC:.*]] = %[[ACC_KH]]) -> (vector<16xf32>)
// CHECK:                     %[[WEIGHT:.*]] = memref.load %[[W]][%[[C]], %[[KH]], %[[KW]]]
// CHECK:                     %[[WV:.*]] = vector.broadcast %[[WEIGHT]] : f32 to vector<16xf32>
// CHECK:                     %[[IH:.*]] = affine.apply #{{.*}}(%[[N]], %[[C]], %[[OH]], %[[KH]], %[[KW]], %[[OW]])
// CHECK:                     %[[IW:.*]] = affine.apply #{{.*}}(%[[N]], %[[C]], %[[OH]], %[[KH]], %[[KW]], %[[OW]])
// CHECK:                     %[[IN:.*]] = vector.load %[[X]][%[[N]], %[[C]], %[[IH]], %[[IW]]]
// CHECK:                     %[[MUL:.*]] = arith.mulf %[[IN]], %[[WV]] : vector<16xf32>
// CHECK:                     %[[NEXT:.*]] = arith.addf %[[ACC]], %[[MUL]] : vector<16xf32>
// CHECK:                     scf.yield %[[NEXT]]
// CHECK:                 vector.store %[[SUM]], %[[Y]][%[[N]], %[[C]], %[[OH]], %[[OW]]]
// CHECK:               vector.maskedload %[[Y]]
// CHECK:                   vector.maskedload %[[X]]
// CHECK:               vector.maskedstore %[[Y]]
func.func @depthwise(%x: memref<2x4x22x22xf32>, %w: memref<4x3x3xf32>, %y: memref<2x4x20x20xf32>) {
  linalg.generic {indexing_maps = [affine_map<(n, c, oh, kh, kw, ow) -> (n, c, oh + kh, ow + kw)>, affine_map<(n, c, oh, kh, kw, ow) -> (c, kh, kw)>, affine_map<(n, c, oh, kh, kw, ow) -> (n, c, oh, ow)>], iterator_types = ["parallel", "parallel", "parallel", "reduction", "reduction", "parallel"]} ins(%x, %w : memref<2x4x22x22xf32>, memref<4x3x3xf32>) outs(%y : memref<2x4x20x20xf32>) {
  ^bb0(%a: f32, %b: f32, %out: f32):
    %0 = arith.mulf %a, %b : f32
    %1 = arith.addf %out, %0 : f32
    linalg.yield %1 : f32
  }
  return
}

// Its input gradient, a scatter with ow innermost: ow is a reduction loop,
// but each lane adds into its own element dx[ow + kw].
// CHECK-LABEL: func.func @scatter
// CHECK-SAME:    (%[[DY:.*]]: memref<2x4x20x20xf32>, %[[W:.*]]: memref<4x3x3xf32>, %[[DX:.*]]: memref<2x4x22x22xf32>)
// CHECK-COUNT-5: scf.for
// CHECK:                   scf.for %[[OW:.*]] =
// CHECK:                     vector.load %[[DY]]
// CHECK:                     %[[IH:.*]] = affine.apply #{{.*}}(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %[[OW]])
// CHECK:                     %[[IW:.*]] = affine.apply #{{.*}}(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %[[OW]])
// CHECK:                     vector.load %[[DX]][%{{.*}}, %{{.*}}, %[[IH]], %[[IW]]]
// CHECK:                     vector.store %{{.*}}, %[[DX]][%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}] : memref<2x4x22x22xf32>, vector<16xf32>
func.func @scatter(%dy: memref<2x4x20x20xf32>, %w: memref<4x3x3xf32>, %dx: memref<2x4x22x22xf32>) {
  linalg.generic {indexing_maps = [affine_map<(n, c, oh, kh, kw, ow) -> (n, c, oh, ow)>, affine_map<(n, c, oh, kh, kw, ow) -> (c, kh, kw)>, affine_map<(n, c, oh, kh, kw, ow) -> (n, c, oh + kh, ow + kw)>], iterator_types = ["parallel", "parallel", "reduction", "reduction", "reduction", "reduction"]} ins(%dy, %w : memref<2x4x20x20xf32>, memref<4x3x3xf32>) outs(%dx : memref<2x4x22x22xf32>) {
  ^bb0(%a: f32, %b: f32, %out: f32):
    %0 = arith.mulf %a, %b : f32
    %1 = arith.addf %out, %0 : f32
    linalg.yield %1 : f32
  }
  return
}

// Max pooling's search for the window position of the maximum: the
// stride-2 input is read as the even lanes of two vectors (the second
// masked after the 31st element, the tail's 4 lanes need only 7), the position
// kh * 2 + kw (loop indices outside the vector loop; linalg's affine.apply
// also takes ow, unused) is computed once as a scalar and broadcast.
// CHECK-LABEL: func.func @pool_index
// CHECK-SAME:    (%[[X:.*]]: memref<2x4x8x40xf32>, %[[M:.*]]: memref<2x4x4x20xf32>, %[[W:.*]]: memref<2x2xf32>, %[[IDX:.*]]: memref<2x4x4x20xi32>, %[[NONE:.*]]: i32)
// CHECK-COUNT-3: scf.for
// CHECK:         %[[OW:c0_[0-9]+]] = arith.constant 0 : index
// CHECK:           %[[FIRST:.*]] = vector.load %[[IDX]]
// CHECK:           scf.for %[[KH:.*]] = {{.*}} iter_args
// CHECK:             scf.for %[[KW:.*]] = {{.*}} iter_args(%[[ACC:.*]] = %{{.*}})
// CHECK:               %[[IH:.*]] = affine.apply
// CHECK:               %[[IW:.*]] = affine.apply
// CHECK:               %[[LOW:.*]] = vector.load %[[X]][%{{.*}}, %{{.*}}, %[[IH]], %[[IW]]] : memref<2x4x8x40xf32>, vector<16xf32>
// CHECK:               %[[IW16:.*]] = arith.addi %[[IW]], %{{.*}} : index
// CHECK:               %[[LAST:.*]] = vector.constant_mask [15] : vector<16xi1>
// CHECK:               %[[HIGH:.*]] = vector.maskedload %[[X]][%{{.*}}, %{{.*}}, %[[IH]], %[[IW16]]], %[[LAST]]
// CHECK:               %[[IN:.*]] = vector.shuffle %[[LOW]], %[[HIGH]] [0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30]
// CHECK:               %[[MAX:.*]] = vector.load %[[M]]
// CHECK:               %[[EQ:.*]] = arith.cmpf oeq, %[[IN]], %[[MAX]] : vector<16xf32>
// CHECK:               %[[KHV:.*]] = affine.apply #{{.*}}(%{{.*}}, %{{.*}}, %{{.*}}, %[[KH]], %[[KW]], %[[OW]])
// CHECK:               %[[ROW:.*]] = arith.muli %[[KHV]], %{{.*}} : index
// CHECK:               %[[POS:.*]] = arith.addi %[[ROW]], %[[KW]] : index
// CHECK:               %[[POS32:.*]] = arith.index_cast %[[POS]] : index to i32
// CHECK:               %[[POSV:.*]] = vector.broadcast %[[POS32]] : i32 to vector<16xi32>
// CHECK:               %[[SEL:.*]] = arith.select %[[EQ]], %[[POSV]], %{{.*}} : vector<16xi1>, vector<16xi32>
// CHECK:               %[[MIN:.*]] = arith.minsi %[[ACC]], %[[SEL]] : vector<16xi32>
// CHECK:               scf.yield %[[MIN]]
// CHECK:           vector.store %{{.*}}, %[[IDX]]
// CHECK:         %[[TAIL:.*]] = vector.constant_mask [7] : vector<16xi1>
// CHECK:         vector.maskedload %[[X]]{{.*}}, %[[TAIL]]
// CHECK-NOT:     vector.maskedload %[[X]]
// CHECK:         vector.shuffle
func.func @pool_index(%x: memref<2x4x8x40xf32>, %m: memref<2x4x4x20xf32>, %w: memref<2x2xf32>, %idx: memref<2x4x4x20xi32>, %none: i32) {
  linalg.generic {indexing_maps = [affine_map<(n, c, oh, kh, kw, ow) -> (n, c, oh * 2 + kh, ow * 2 + kw)>, affine_map<(n, c, oh, kh, kw, ow) -> (n, c, oh, ow)>, affine_map<(n, c, oh, kh, kw, ow) -> (kh, kw)>, affine_map<(n, c, oh, kh, kw, ow) -> (n, c, oh, ow)>], iterator_types = ["parallel", "parallel", "parallel", "reduction", "reduction", "parallel"]} ins(%x, %m, %w : memref<2x4x8x40xf32>, memref<2x4x4x20xf32>, memref<2x2xf32>) outs(%idx : memref<2x4x4x20xi32>) {
  ^bb0(%in: f32, %max: f32, %unused: f32, %out: i32):
    %eq = arith.cmpf oeq, %in, %max : f32
    %i0 = linalg.index 0 : index
    %i1 = linalg.index 1 : index
    %i2 = linalg.index 2 : index
    %i3 = linalg.index 3 : index
    %i4 = linalg.index 4 : index
    %i5 = linalg.index 5 : index
    %kh = affine.apply affine_map<(d0, d1, d2, d3, d4, d5) -> (d3)>(%i0, %i1, %i2, %i3, %i4, %i5)
    %kw = linalg.index 4 : index
    %c2 = arith.constant 2 : index
    %row = arith.muli %kh, %c2 : index
    %pos = arith.addi %row, %kw : index
    %pos32 = arith.index_cast %pos : index to i32
    %sel = arith.select %eq, %pos32, %none : i32
    %min = arith.minsi %out, %sel : i32
    linalg.yield %min : i32
  }
  return
}

// Lanes 3 elements apart: a gather.
// CHECK-LABEL: func.func @stride3
// CHECK:         %[[LANES:.*]] = arith.constant dense<[0, 3, 6, 9, 12, 15, 18, 21, 24, 27, 30, 33, 36, 39, 42, 45]> : vector<16xi32>
// CHECK:         vector.gather %{{.*}}[%{{.*}}, %{{.*}}] [%[[LANES]]]
func.func @stride3(%x: memref<2x48xf32>, %y: memref<2x16xf32>) {
  linalg.generic {indexing_maps = [affine_map<(n, w) -> (n, w * 3)>, affine_map<(n, w) -> (n, w)>], iterator_types = ["parallel", "parallel"]} ins(%x : memref<2x48xf32>) outs(%y : memref<2x16xf32>) {
  ^bb0(%a: f32, %out: f32):
    linalg.yield %a : f32
  }
  return
}

// An output that is also an input is updated in memory at every reduction
// step (the input must see each update), not kept in a register.
// CHECK-LABEL: func.func @aliased_output
// CHECK-NOT:     iter_args
// CHECK:         vector.store
// CHECK-NOT:     iter_args
func.func @aliased_output(%x: memref<2x3x16xf32>, %y: memref<2x16xf32>) {
  linalg.generic {indexing_maps = [affine_map<(n, r, w) -> (n, r, w)>, affine_map<(n, r, w) -> (n, w)>, affine_map<(n, r, w) -> (n, w)>], iterator_types = ["parallel", "reduction", "parallel"]} ins(%x, %y : memref<2x3x16xf32>, memref<2x16xf32>) outs(%y : memref<2x16xf32>) {
  ^bb0(%a: f32, %b: f32, %out: f32):
    %0 = arith.addf %a, %b : f32
    linalg.yield %0 : f32
  }
  return
}

// The vector loop's own index: the chunk's first element plus the lanes'
// positions.
// CHECK-LABEL: func.func @lane_index
// CHECK:         scf.for
// CHECK:         scf.for %[[W:.*]] =
// CHECK:           %[[BASE:.*]] = vector.broadcast %[[W]] : index to vector<16xindex>
// CHECK:           %[[STEP:.*]] = vector.step : vector<16xindex>
// CHECK:           %[[I:.*]] = arith.addi %[[BASE]], %[[STEP]] : vector<16xindex>
// CHECK:           arith.index_cast %[[I]] : vector<16xindex> to vector<16xi32>
func.func @lane_index(%y: memref<4x32xi32>) {
  linalg.generic {indexing_maps = [affine_map<(n, w) -> (n, w)>], iterator_types = ["parallel", "parallel"]} outs(%y : memref<4x32xi32>) {
  ^bb0(%out: i32):
    %w = linalg.index 1 : index
    %0 = arith.index_cast %w : index to i32
    linalg.yield %0 : i32
  }
  return
}

// Loops over which every operand is contiguous merge into the vector loop:
// a batch norm's 7x7 maps (rows of 7: mostly mask) become rows of 49
// per channel, the per-channel operand (a `(0, c, 0, 0)` broadcast) still
// loaded once per row. A window index (`oh + kh`) keeps its loops apart.
// CHECK-LABEL: func.func @merged_rows
// CHECK-DAG:     memref.collapse_shape %{{.*}} {{\[}}[0], [1], [2, 3]] : memref<4x8x7x7xf32> into memref<4x8x49xf32>
// CHECK-DAG:     memref.collapse_shape %{{.*}} {{\[}}[0], [1], [2, 3]] : memref<4x8x7x7xf32> into memref<4x8x49xf32>
// CHECK:         scf.for %[[N:.*]] = %c0{{.*}} to %c4
// CHECK:           scf.for %[[C:.*]] = %c0{{.*}} to %c8
// CHECK:             memref.load %{{.*}}[%{{.*}}, %[[C]], %{{.*}}, %{{.*}}] : memref<1x8x1x1xf32>
// CHECK:             scf.for %{{.*}} = %c0{{.*}} to %c48{{.*}} step %c16
// CHECK:             vector.maskedload {{.*}} : memref<4x8x49xf32>, vector<16xi1>, vector<16xf32>
// CHECK:         linalg.generic
// CHECK-SAME:        iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction"]
func.func @merged_rows(%x: memref<4x8x7x7xf32>, %s: memref<1x8x1x1xf32>, %y: memref<4x8x7x7xf32>, %p: memref<4x8x9x9xf32>, %w: memref<3x3xf32>) {
  linalg.generic {indexing_maps = [affine_map<(n, c, h, w) -> (n, c, h, w)>, affine_map<(n, c, h, w) -> (0, c, 0, 0)>, affine_map<(n, c, h, w) -> (n, c, h, w)>], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%x, %s : memref<4x8x7x7xf32>, memref<1x8x1x1xf32>) outs(%y : memref<4x8x7x7xf32>) {
  ^bb0(%a: f32, %scale: f32, %out: f32):
    %0 = arith.mulf %a, %scale : f32
    linalg.yield %0 : f32
  }
  linalg.generic {indexing_maps = [affine_map<(n, c, h, w, kh, kw) -> (n, c, h + kh, w + kw)>, affine_map<(n, c, h, w, kh, kw) -> (kh, kw)>, affine_map<(n, c, h, w, kh, kw) -> (n, c, h, w)>], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction"]} ins(%p, %w : memref<4x8x9x9xf32>, memref<3x3xf32>) outs(%y : memref<4x8x7x7xf32>) {
  ^bb0(%a: f32, %b: f32, %out: f32):
    %0 = arith.mulf %a, %b : f32
    %1 = arith.addf %0, %out : f32
    linalg.yield %1 : f32
  }
  return
}

// Left alone: a transposed operand (its innermost index is not contiguous),
// i1 elements, short rows (here a slice: not contiguous with the next
// row), integer division, a reduction along the vector
// loop (into a row: the lanes would add into one element), and a stride-2
// output (dx[ow * 2 + kw], max pooling's gradient: a scatter).
// CHECK-LABEL: func.func @left_alone
// CHECK-NOT:     vector
// CHECK-COUNT-6: linalg.generic
func.func @left_alone(%x: memref<2x16x16xf32>, %m: memref<2x16x16xi1>, %short: memref<2x16x6xf32, strided<[128, 8, 1]>>, %i: memref<2x16x16xi32>, %row: memref<2x16xf32>, %wide: memref<2x16x40xf32>, %k: memref<2xf32>) {
  linalg.generic {indexing_maps = [#transposed, #id], iterator_types = ["parallel", "parallel", "parallel"]} ins(%x : memref<2x16x16xf32>) outs(%x : memref<2x16x16xf32>) {
  ^bb0(%a: f32, %out: f32):
    linalg.yield %a : f32
  }
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel"]} ins(%m : memref<2x16x16xi1>) outs(%x : memref<2x16x16xf32>) {
  ^bb0(%b: i1, %out: f32):
    %0 = arith.uitofp %b : i1 to f32
    linalg.yield %0 : f32
  }
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel"]} ins(%short : memref<2x16x6xf32, strided<[128, 8, 1]>>) outs(%short : memref<2x16x6xf32, strided<[128, 8, 1]>>) {
  ^bb0(%a: f32, %out: f32):
    %0 = arith.negf %a : f32
    linalg.yield %0 : f32
  }
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel"]} ins(%i : memref<2x16x16xi32>) outs(%i : memref<2x16x16xi32>) {
  ^bb0(%a: i32, %out: i32):
    %0 = arith.divsi %out, %a : i32
    linalg.yield %0 : i32
  }
  linalg.generic {indexing_maps = [#id, affine_map<(n, c, w) -> (n, c)>], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x : memref<2x16x16xf32>) outs(%row : memref<2x16xf32>) {
  ^bb0(%a: f32, %out: f32):
    %0 = arith.addf %a, %out : f32
    linalg.yield %0 : f32
  }
  linalg.generic {indexing_maps = [affine_map<(n, c, kw, ow) -> (n, c, ow)>, affine_map<(n, c, kw, ow) -> (kw)>, affine_map<(n, c, kw, ow) -> (n, c, ow * 2 + kw)>], iterator_types = ["parallel", "parallel", "reduction", "reduction"]} ins(%x, %k : memref<2x16x16xf32>, memref<2xf32>) outs(%wide : memref<2x16x40xf32>) {
  ^bb0(%a: f32, %b: f32, %out: f32):
    %0 = arith.addf %a, %out : f32
    linalg.yield %0 : f32
  }
  return
}

// A sum over the batch into rows of 80 (batch norm's statistics): full
// chunks four at a time, four independent accumulators through the
// reduction loop (each reads 64 consecutive elements of a row per step),
// then the fifth chunk alone; each element still sums n in order.
// CHECK-LABEL: func.func @accumulate_four_chunks
// CHECK-SAME:    (%[[X:.*]]: memref<8x3x80xf32>, %[[S:.*]]: memref<3x80xf32>)
// CHECK:         scf.for %[[C:.*]] =
// CHECK:           scf.for %[[W:.*]] = %{{.*}} to %{{.*}} step %c64
// CHECK-COUNT-4:     vector.load %[[S]][%[[C]], %{{.*}}]
// CHECK:             %{{.*}}:4 = scf.for %[[N:.*]] = {{.*}} iter_args({{.*}}) -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>)
// CHECK-COUNT-4:       arith.addf
// CHECK:               scf.yield
// CHECK-COUNT-4:     vector.store {{.*}}, %[[S]][%[[C]], %{{.*}}]
// CHECK:           %[[LAST:.*]] = arith.constant 64 : index
// CHECK:           vector.load %[[S]][%[[C]], %[[LAST]]]
// CHECK:           scf.for {{.*}} -> (vector<16xf32>)
// CHECK:           vector.store {{.*}}, %[[S]][%[[C]], %[[LAST]]]
func.func @accumulate_four_chunks(%x: memref<8x3x80xf32>, %s: memref<3x80xf32>) {
  linalg.generic {indexing_maps = [affine_map<(c, n, w) -> (n, c, w)>, affine_map<(c, n, w) -> (c, w)>], iterator_types = ["parallel", "reduction", "parallel"]} ins(%x : memref<8x3x80xf32>) outs(%s : memref<3x80xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %r = arith.addf %acc, %a : f32
    linalg.yield %r : f32
  }
  return
}

// -----

// An op that yields an invariant input as is (a broadcast copy) stores its
// broadcast; the pass used to ask the yield for a result (found by
// qat-mlir-fuzzer).
// CHECK-LABEL: func.func @yield_invariant
// CHECK:         %[[S:.*]] = memref.load %{{.*}}[] : memref<f32>
// CHECK:         %[[LANES:.*]] = vector.broadcast %[[S]] : f32 to vector<16xf32>
// CHECK:         scf.for
// CHECK:           vector.store %[[LANES]], %{{.*}} : memref<32xf32>, vector<16xf32>
func.func @yield_invariant(%s: memref<f32>, %out: memref<4x8xf32>) {
  linalg.generic {indexing_maps = [affine_map<(i, j) -> ()>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]} ins(%s : memref<f32>) outs(%out : memref<4x8xf32>) {
  ^bb0(%a: f32, %b: f32):
    linalg.yield %a : f32
  }
  return
}
