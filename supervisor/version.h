/* version.h: which handoff this binary is: its version and the state format it writes (handoff upgrade). */
#ifndef HANDOFF_VERSION_H
#define HANDOFF_VERSION_H

/*
 * Defined in version.c, one object per program: a program that links its
 * own (a test build of another version) is that version throughout, -V,
 * status, metrics, logs and the state it writes and reads.
 */
extern const char handoff_version[];
/* The state format written (state.h); read: it and the one before. */
extern const int handoff_state_version;

/* 0; 1 in a test build whose image refuses every state it has adopted (the
 * image before it must then resume: upgrade_back). */
extern const int handoff_refuse_adopt;

#endif
