/* shmpool's kernel plugin ABI: the one header a plugin (a shared library) includes.
 * Pure C with fixed-size types, usable from C and C++; versioned by SHMPOOL_KERNEL_ABI_VERSION. */
#ifndef SHMPOOL_KERNEL_H
#define SHMPOOL_KERNEL_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The layout of every struct below. shmpoold refuses a plugin whose info says another. */
#define SHMPOOL_KERNEL_ABI_VERSION 1u

/* The symbol shmpoold looks up in each plugin: a function of type shmpool_plugin_fn. */
#define SHMPOOL_PLUGIN_ENTRY "shmpool_plugin"

#define SHMPOOL_MAX_DIMS 4
#define SHMPOOL_MAX_ROLES 4
#define SHMPOOL_NAME_BYTES 48    /* a kernel name has 1..47 characters [A-Za-z0-9_.-], not '_' first */
#define SHMPOOL_ROLE_BYTES 32    /* a role name has 1..31 characters */
#define SHMPOOL_MESSAGE_BYTES 256 /* the size of the buffer a callback may write an error message to */

/* Element types (shmpool_meta.dtype). */
#define SHMPOOL_DTYPE_FLOAT64 0u
#define SHMPOOL_DTYPE_FLOAT32 1u
#define SHMPOOL_DTYPE_INT64 2u
#define SHMPOOL_DTYPE_INT32 3u
#define SHMPOOL_DTYPE_UINT8 4u

/* How the daemon combines the ranges' partials (shmpool_plan.reduce). */
#define SHMPOOL_REDUCE_NONE 0u
#define SHMPOOL_REDUCE_SUM 1u
#define SHMPOOL_REDUCE_MEAN 2u
#define SHMPOOL_REDUCE_MIN 3u
#define SHMPOOL_REDUCE_MAX 4u
#define SHMPOOL_REDUCE_ARGMIN 5u
#define SHMPOOL_REDUCE_ARGMAX 6u

/* What a callback returns. plan's codes become the job's error code (bad_param, ...);
 * any non-zero code from start or run fails the range (range_failed, with the message). */
#define SHMPOOL_OK 0
#define SHMPOOL_ERR_BAD_PARAM 1
#define SHMPOOL_ERR_DTYPE_MISMATCH 2
#define SHMPOOL_ERR_SHAPE_MISMATCH 3
#define SHMPOOL_ERR_BAD_SHAPE 4
#define SHMPOOL_ERR_TOO_LARGE 5
#define SHMPOOL_ERR_FAILED 6 /* anything else */

/* An array's type and shape: C order, 1..4 dims, dims[ndim..] are 0. */
typedef struct shmpool_meta {
    uint32_t dtype;
    uint32_t ndim;
    uint64_t dims[SHMPOOL_MAX_DIMS];
} shmpool_meta;

/* One input as plan sees it. */
typedef struct shmpool_input_meta {
    const char* role;
    shmpool_meta meta;
} shmpool_input_meta;

/* What plan fills in (zeroed before the call). */
typedef struct shmpool_plan {
    uint32_t has_output; /* 1: the job writes a dataset of meta `output` */
    uint32_t reduce;     /* SHMPOOL_REDUCE_*: how run's partials are combined */
    uint64_t rows;       /* the index space [0, rows) that is split into ranges; >= 1 */
    shmpool_meta output;
} shmpool_plan;

/* A mapped dataset: inputs are read-only (writing one faults), the output is writable. */
typedef struct shmpool_view {
    const char* role;   /* the input's role; NULL for the output */
    shmpool_meta meta;
    const void* data;   /* the first element; NULL for an absent output */
    void* writable;     /* the output's first element; NULL for inputs */
} shmpool_view;

/* One job as start sees it. Every pointer stays valid until finish returns. */
typedef struct shmpool_job {
    const char* params_json; /* compact JSON object, keys sorted, e.g. {"offset":0.5} or {} */
    uint32_t n_inputs;
    uint32_t reserved;         /* 0 */
    const shmpool_view* inputs; /* in the kernel's role order */
    shmpool_view output;        /* data and writable are NULL when plan set no output */
} shmpool_job;

/* A reducing kernel's result for one range (see common/partial.h in shmpool). */
typedef struct shmpool_partial {
    double value;        /* sum, or the extreme value */
    double compensation; /* sum: low-order part (value + compensation is the sum), else 0 */
    int64_t index;       /* min/max/argmin/argmax: flat index of the extreme, -1 for none */
    uint64_t count;      /* elements the range covered (mean divides by the total) */
} shmpool_partial;

/* Validates a job and describes it; computes nothing. Runs in a short-lived child of the
 * daemon (a crash fails the submit, never the daemon) with a time limit of about a second.
 * On failure: return a SHMPOOL_ERR_* code and write a NUL-terminated message. */
typedef int32_t (*shmpool_plan_fn)(const char* params_json, const shmpool_input_meta* inputs, uint32_t n_inputs,
                                   shmpool_plan* plan, char* message, uint32_t message_bytes);

/* In a worker, once per job: makes the per-job state (*state, may stay NULL). */
typedef int32_t (*shmpool_start_fn)(const shmpool_job* job, void** state, char* message, uint32_t message_bytes);

/* In a worker: computes rows [begin, end), writing only those rows of the output and every
 * element of them (the output's prior bytes are unspecified: a segment may be reused). Called for
 * many ranges of one job, in any order, possibly again for a range (retries must be harmless).
 * A reducing kernel fills *partial (preset to {0, 0, -1, 0}). */
typedef int32_t (*shmpool_run_fn)(void* state, uint64_t begin, uint64_t end, shmpool_partial* partial,
                                  char* message, uint32_t message_bytes);

/* In a worker: frees the state of a job whose start succeeded. May be NULL. */
typedef void (*shmpool_finish_fn)(void* state);

/* One kernel. The strings and the struct must live as long as the library is loaded. */
typedef struct shmpool_kernel {
    const char* name;
    const char* const* roles; /* input role names, NULL-terminated; at most SHMPOOL_MAX_ROLES */
    const char* params_json;  /* {"param": "meaning", ...}; NULL means {} */
    const char* description;  /* one line */
    shmpool_plan_fn plan;
    shmpool_start_fn start;
    shmpool_run_fn run;
    shmpool_finish_fn finish;
} shmpool_kernel;

/* What the entry returns. abi_version comes first in every version of the ABI. */
typedef struct shmpool_plugin_info {
    uint32_t abi_version; /* SHMPOOL_KERNEL_ABI_VERSION */
    uint32_t kernel_count;
    const shmpool_kernel* kernels;
} shmpool_plugin_info;

typedef const shmpool_plugin_info* (*shmpool_plugin_fn)(void);

#if defined(__GNUC__)
#define SHMPOOL_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define SHMPOOL_PLUGIN_EXPORT
#endif

/* The entry every plugin defines (with this exact name and C linkage). */
SHMPOOL_PLUGIN_EXPORT const shmpool_plugin_info* shmpool_plugin(void);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* SHMPOOL_KERNEL_H */
