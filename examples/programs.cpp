// programs.cpp — programs 04–07, compiled as few times as possible.
//
// Each of the four programs instantiates the same small AttnGAN (trainer,
// encoders, generator, discriminators, their backward passes); compiled
// separately that work is done four times (70–110 s each on two cores). Here
// each program's source is included once under its own entry-point name, and
// CMake gives every program a two-line main() that calls it (see
// CMakeLists.txt). Every program's source still builds on its own as a
// normal main().
//
// With ATTNGAN_PROGRAMS_PART defined to 1 or 2, only one of two parts is
// compiled: 1 is 04, 06 and 07, 2 is 05 (the GAN trainer, the largest). The
// build compiles the two parts as two objects, one per core: on a 2-core
// machine that finishes about a fifth sooner than the whole file at once,
// though the parts repeat some instantiations (bench/RESULTS.md, "Build").
// Undefined, all four are compiled (the GPU-API syntax check does that).
#if !defined(ATTNGAN_PROGRAMS_PART) || ATTNGAN_PROGRAMS_PART == 1
#define ATTNGAN_PROGRAM_MAIN attngan_pretrain_damsm_main
#include "04_pretrain_damsm.cpp"
#undef ATTNGAN_PROGRAM_MAIN

#define ATTNGAN_PROGRAM_MAIN attngan_generate_main
#include "06_generate.cpp"
#undef ATTNGAN_PROGRAM_MAIN

#define ATTNGAN_PROGRAM_MAIN attngan_evaluate_main
#include "07_evaluate.cpp"
#undef ATTNGAN_PROGRAM_MAIN
#endif

#if !defined(ATTNGAN_PROGRAMS_PART) || ATTNGAN_PROGRAMS_PART == 2
#define ATTNGAN_PROGRAM_MAIN attngan_train_attngan_main
#include "05_train_attngan.cpp"
#undef ATTNGAN_PROGRAM_MAIN
#endif
