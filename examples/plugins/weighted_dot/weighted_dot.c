/* Example shmpool kernel plugin `weighted_dot`: y = X w + offset for X (n x d) and w (d), float64.
 * Pure C against include/shmpool/kernel.h alone; ranges over the rows of X. See docs/plugins.md. */
#include <shmpool/kernel.h>

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct weighted_dot_state {
    const double* X;
    const double* w;
    double* y;
    uint64_t n, d;
    double offset;
} weighted_dot_state;

__attribute__((format(printf, 4, 5))) static int32_t fail(int32_t code, char* message, uint32_t bytes,
                                                          const char* format, ...) {
    va_list args;
    va_start(args, format);
    vsnprintf(message, bytes, format, args);
    va_end(args);
    return code;
}

/* The daemon passes params as compact JSON with sorted keys: {} or {"offset":<number>}. */
static int32_t parse_offset(const char* params, double* offset, char* message, uint32_t bytes) {
    static const char prefix[] = "{\"offset\":";
    const char* number = params + sizeof prefix - 1;
    char* end = NULL;
    *offset = 0;
    if (strcmp(params, "{}") == 0) return SHMPOOL_OK;
    if (strncmp(params, prefix, sizeof prefix - 1) == 0) {
        *offset = strtod(number, &end);
        if (end != number && strcmp(end, "}") == 0 && isfinite(*offset)) return SHMPOOL_OK;
    }
    return fail(SHMPOOL_ERR_BAD_PARAM, message, bytes, "weighted_dot takes only the param 'offset' (a number), got %s",
                params);
}

static int32_t check_inputs(const shmpool_meta* X, const shmpool_meta* w, char* message, uint32_t bytes) {
    if (X->dtype != SHMPOOL_DTYPE_FLOAT64 || w->dtype != SHMPOOL_DTYPE_FLOAT64)
        return fail(SHMPOOL_ERR_DTYPE_MISMATCH, message, bytes, "input '%s' must be float64",
                    X->dtype != SHMPOOL_DTYPE_FLOAT64 ? "X" : "w");
    if (X->ndim != 2) return fail(SHMPOOL_ERR_SHAPE_MISMATCH, message, bytes, "input 'X' must have 2 dims, got %u", X->ndim);
    if (w->ndim != 1) return fail(SHMPOOL_ERR_SHAPE_MISMATCH, message, bytes, "input 'w' must have 1 dim, got %u", w->ndim);
    if (w->dims[0] != X->dims[1])
        return fail(SHMPOOL_ERR_SHAPE_MISMATCH, message, bytes,
                    "input 'w' has %" PRIu64 " elements but 'X' has %" PRIu64 " columns", w->dims[0], X->dims[1]);
    return SHMPOOL_OK;
}

/* inputs[0] is X and inputs[1] is w: the daemon passes exactly the declared roles, in order. */
static int32_t weighted_dot_plan(const char* params, const shmpool_input_meta* inputs, uint32_t n_inputs,
                                 shmpool_plan* plan, char* message, uint32_t bytes) {
    double offset;
    int32_t status = parse_offset(params, &offset, message, bytes);
    (void)n_inputs;
    if (status == SHMPOOL_OK) status = check_inputs(&inputs[0].meta, &inputs[1].meta, message, bytes);
    if (status != SHMPOOL_OK) return status;
    plan->has_output = 1;
    plan->output.dtype = SHMPOOL_DTYPE_FLOAT64;
    plan->output.ndim = 1;
    plan->output.dims[0] = inputs[0].meta.dims[0];
    plan->rows = inputs[0].meta.dims[0];
    plan->reduce = SHMPOOL_REDUCE_NONE;
    return SHMPOOL_OK;
}

static int32_t weighted_dot_start(const shmpool_job* job, void** state, char* message, uint32_t bytes) {
    const shmpool_view* X = &job->inputs[0];
    const shmpool_view* w = &job->inputs[1];
    weighted_dot_state* s;
    double offset;
    int32_t status = parse_offset(job->params_json, &offset, message, bytes);
    if (status == SHMPOOL_OK) status = check_inputs(&X->meta, &w->meta, message, bytes);
    if (status != SHMPOOL_OK) return status;
    if (job->output.writable == NULL || job->output.meta.ndim != 1 || job->output.meta.dims[0] != X->meta.dims[0])
        return fail(SHMPOOL_ERR_FAILED, message, bytes, "the output is not the planned n float64 vector");
    s = malloc(sizeof *s);
    if (s == NULL) return fail(SHMPOOL_ERR_FAILED, message, bytes, "out of memory");
    s->X = X->data;
    s->w = w->data;
    s->y = job->output.writable;
    s->n = X->meta.dims[0];
    s->d = X->meta.dims[1];
    s->offset = offset;
    *state = s;
    return SHMPOOL_OK;
}

/* Writes y[begin..end) only: a retried range rewrites the same values. */
static int32_t weighted_dot_run(void* state, uint64_t begin, uint64_t end, shmpool_partial* partial, char* message,
                                uint32_t bytes) {
    const weighted_dot_state* s = state;
    (void)partial;
    if (begin > end || end > s->n)
        return fail(SHMPOOL_ERR_FAILED, message, bytes, "range [%" PRIu64 ", %" PRIu64 ") is outside [0, %" PRIu64 ")",
                    begin, end, s->n);
    for (uint64_t i = begin; i < end; ++i) {
        const double* row = s->X + i * s->d;
        double sum = 0;
        for (uint64_t j = 0; j < s->d; ++j) sum += row[j] * s->w[j];
        s->y[i] = sum + s->offset;
    }
    return SHMPOOL_OK;
}

static void weighted_dot_finish(void* state) { free(state); }

static const char* const weighted_dot_roles[] = {"X", "w", NULL};

static const shmpool_kernel kernels[] = {{
    "weighted_dot",
    weighted_dot_roles,
    "{\"offset\": \"number added to every result (default 0)\"}",
    "y = X w + offset for X (n x d) float64 and w (d) float64; n float64 output",
    weighted_dot_plan,
    weighted_dot_start,
    weighted_dot_run,
    weighted_dot_finish,
}};

static const shmpool_plugin_info info = {SHMPOOL_KERNEL_ABI_VERSION, 1, kernels};

const shmpool_plugin_info* shmpool_plugin(void) { return &info; }
