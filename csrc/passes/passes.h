// The torch_optspec stages, one file and one header each, in the order the
// pipeline runs them (../pipeline.cpp reads top to bottom in this order).
// Every stage is a plain function over a graph: it reads no global state,
// takes its settings as arguments, and is callable alone: runStage()
// (stages.h) runs each one for the IR-file tests, tests/ir/<stage>/*.ir.
//
//   in the pre-pass, on the graph the executor is optimizing:
//   element_writes.h     0. keep in-place updates of list/tuple elements from
//                           stock dead-code elimination
//   profile.h            1. (while profiling) the nodes to profile: the
//                           readers of Optional[Tensor] inputs, tensor
//                           property reads
//   decide.h             2. the profiles read into InputDecisions
//   value_site.h         3. bool/int/Optional[T] values: substitute what a
//                           value site fixed, or put a site that learns them
//   version.h            4. guard: prim::If(check_inputs(...)), the fast path
//                           in block0, the original in block1
//   refine.h             5. the decided inputs replaced in the fast path
//   cleanup.h            6. peephole / constant propagation / DCE to a fixed
//                           point: the checks on those inputs disappear
//   verify.h             7. lint and operator resolution: nothing unverified
//                           is swapped in
//   outline.h            8. the fast path into a function of its own (for
//                           top-level-only fusers: oneDNN Graph)
//   fuser_safety.h       9. (oneDNN Graph registered) rename the nodes its
//                           bridge would throw on or compute differently
//   in the post-pass, after the fusers:
//   postfusion.h        10. (NNC) un-fuse groups left without inputs
//   pass_state.h        11. mark the subgraphs compiled later with the pass
//                           state of this optimization
//   emission_barriers.h 12. a no-op after each loop, for the interpreter
//
//   specialize_inputs.h  the driver: 3-8 on a copy of one graph
//   ahead_of_time.h      the same decisions from example values, guarded with
//                        stock operations (torch_optspec.specialize)
//   ir_idioms.h          what several stages share
//   stages.h             each stage by name, for tests and tools
//
// Logging: PYTORCH_JIT_LOG_LEVEL=">specialize_inputs" prints each graph
// before and after the driver; GRAPH_UPDATE (">>") each rewrite of every
// stage, e.g. ">>>decide:>>version:>>refine:>>cleanup:>>outline:>>fuser_safety"
// (docs/design.md).
#pragma once

#include "element_writes.h"
#include "profile.h"
#include "decide.h"
#include "value_site.h"
#include "version.h"
#include "refine.h"
#include "cleanup.h"
#include "verify.h"
#include "outline.h"
#include "fuser_safety.h"
#include "postfusion.h"
#include "pass_state.h"
#include "emission_barriers.h"
#include "specialize_inputs.h"
#include "ahead_of_time.h"
#include "stages.h"
