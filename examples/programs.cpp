// programs.cpp — programs 04–07 in one translation unit.
//
// Each of the four programs instantiates the same small AttnGAN (trainer,
// encoders, generator, discriminators, their backward passes); compiled
// separately that work is done four times (70–150 s each on two cores). Here
// each program's source is included once under its own entry-point name, and
// CMake gives every program a two-line main() that calls it (see
// CMakeLists.txt). Every program's source still builds on its own as a
// normal main().
#define ATTNGAN_PROGRAM_MAIN attngan_pretrain_damsm_main
#include "04_pretrain_damsm.cpp"
#undef ATTNGAN_PROGRAM_MAIN

#define ATTNGAN_PROGRAM_MAIN attngan_train_attngan_main
#include "05_train_attngan.cpp"
#undef ATTNGAN_PROGRAM_MAIN

#define ATTNGAN_PROGRAM_MAIN attngan_generate_main
#include "06_generate.cpp"
#undef ATTNGAN_PROGRAM_MAIN

#define ATTNGAN_PROGRAM_MAIN attngan_evaluate_main
#include "07_evaluate.cpp"
#undef ATTNGAN_PROGRAM_MAIN
