/* version.c: this build's version and state format, overridable at compile time for test builds. */
#include "version.h"

#include "state.h"

#ifndef HANDOFF_VERSION
#define HANDOFF_VERSION PACKAGE_VERSION
#endif
#ifndef HANDOFF_STATE_VERSION
#define HANDOFF_STATE_VERSION STATE_VERSION
#endif

#ifndef HANDOFF_REFUSE_ADOPT
#define HANDOFF_REFUSE_ADOPT 0
#endif

const char handoff_version[] = HANDOFF_VERSION;
const int handoff_refuse_adopt = HANDOFF_REFUSE_ADOPT;
const int handoff_state_version = HANDOFF_STATE_VERSION;
