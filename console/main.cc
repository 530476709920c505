// clsctl: the operator console for the coordinator's admin API.

#include "console/cli.h"

int main(int argc, char** argv) { return cls::console::RunClsctl(argc, argv); }
