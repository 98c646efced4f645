/* version.c: this build's version and state format, overridable at compile time for test builds. */
#include "version.h"

#include "state.h"

#ifndef HANDOFF_VERSION
#define HANDOFF_VERSION PACKAGE_VERSION
#endif
#ifndef HANDOFF_STATE_VERSION
#define HANDOFF_STATE_VERSION STATE_VERSION
#endif

const char handoff_version[] = HANDOFF_VERSION;
const int handoff_state_version = HANDOFF_STATE_VERSION;
