/*
 * A fake libnvidia-ml.so.1 for tests: the C prototypes of every NVML function dra-gpu calls
 * (through nvidia-ml-py / pynvml), with NVML's argument types -- pointers where the C API
 * takes pointers, structs with NVML's layout and version words -- over a small simulated
 * node. Built by the tests with gcc; never shipped.
 *
 * Why: pynvml declares no ctypes argtypes, so a Python caller that passes a struct by value
 * where NVML takes a pointer (as dra-gpu once did for
 * nvmlDeviceCreateGpuInstanceWithPlacement) is not caught in Python. Against this library it
 * fails the way it would on a node: the struct's bytes are read as an address and the
 * process dies with SIGSEGV. Handles are checked for a magic word, versioned structs for
 * their version word (NVML_ERROR_ARGUMENT_VERSION_MISMATCH), buffers for their size.
 *
 * The simulated node (written for this project; the types and function prototypes follow
 * the semantics of NVIDIA's public nvml.h):
 *   GPU 0: "NVIDIA H100 80GB HBM3", MIG capable, MIG mode on (FAKE_NVML_MIG_OFF=1: off),
 *          GPU-instance profiles 1g.10gb (id 19), 3g.40gb (id 9), 7g.80gb (id 0).
 *   GPU 1: "NVIDIA L4", not MIG capable (nvmlDeviceGetMigMode: NOT_SUPPORTED).
 * State lives in files under $FAKE_NVML_DIR so that it survives the process (as GPU state
 * survives a plugin restart; without $FAKE_NVML_DIR it lives in memory and no file is written):
 *   mig.state         one line per GPU instance: "<gpu> <giId> <profileId> <start> <size> <ciId>"
 *   events            lines "<uuid> xid <code>" | "<uuid> dbe" | "<uuid> sbe", consumed in order
 *   recovery-<uuid>   NVML_FI_DEV_GET_GPU_RECOVERY_ACTION value (default 0, NONE)
 *   lost-<uuid>       present: the GPU answers NVML_ERROR_GPU_IS_LOST
 *   computemode-<uuid> nvmlComputeMode_t value (default 0, DEFAULT; 3 EXCLUSIVE_PROCESS)
 *   calls.log         one line per call, for tests that check what was asked
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

typedef int nvmlReturn_t;
enum {
    NVML_SUCCESS = 0, NVML_ERROR_UNINITIALIZED = 1, NVML_ERROR_INVALID_ARGUMENT = 2,
    NVML_ERROR_NOT_SUPPORTED = 3, NVML_ERROR_NOT_FOUND = 6, NVML_ERROR_INSUFFICIENT_SIZE = 7,
    NVML_ERROR_TIMEOUT = 10, NVML_ERROR_GPU_IS_LOST = 15, NVML_ERROR_IN_USE = 19,
    NVML_ERROR_INSUFFICIENT_RESOURCES = 23, NVML_ERROR_ARGUMENT_VERSION_MISMATCH = 25,
    NVML_ERROR_UNKNOWN = 999,
};

#define NVML_DEVICE_PCI_BUS_ID_BUFFER_SIZE 32
#define NVML_DEVICE_PCI_BUS_ID_BUFFER_V2_SIZE 16
#define NVML_DEVICE_NAME_V2_BUFFER_SIZE 96
#define NVML_DEVICE_UUID_V2_BUFFER_SIZE 96
#define NVML_STRUCT_VERSION(size, ver) ((unsigned int)(size) | ((ver) << 24U))
#define FIELD_GPU_RECOVERY_ACTION 230
#define EVENT_SBE 0x1ULL
#define EVENT_DBE 0x2ULL
#define EVENT_XID 0x8ULL

/* ---- NVML types (layouts as nvml.h defines them) ---------------------------------- */
typedef struct nvmlDevice_st *nvmlDevice_t;
/* nvml.h: typedef enum nvmlComputeMode_enum {...} nvmlComputeMode_t; (an enum: 4 bytes) */
typedef enum nvmlComputeMode_enum {
    NVML_COMPUTEMODE_DEFAULT = 0, NVML_COMPUTEMODE_EXCLUSIVE_THREAD = 1,
    NVML_COMPUTEMODE_PROHIBITED = 2, NVML_COMPUTEMODE_EXCLUSIVE_PROCESS = 3,
} nvmlComputeMode_t;
typedef struct nvmlGpuInstance_st *nvmlGpuInstance_t;
typedef struct nvmlComputeInstance_st *nvmlComputeInstance_t;
typedef struct nvmlEventSet_st *nvmlEventSet_t;

typedef struct {
    char busIdLegacy[NVML_DEVICE_PCI_BUS_ID_BUFFER_V2_SIZE];
    unsigned int domain, bus, device, pciDeviceId, pciSubSystemId;
    char busId[NVML_DEVICE_PCI_BUS_ID_BUFFER_SIZE];
} nvmlPciInfo_t;

typedef struct { unsigned long long total, free, used; } nvmlMemory_t;

typedef struct {
    unsigned int multiprocessorCount, sharedCopyEngineCount, sharedDecoderCount,
        sharedEncoderCount, sharedJpegCount, sharedOfaCount, gpuInstanceSliceCount,
        computeInstanceSliceCount;
    unsigned long long memorySizeMB;
} nvmlDeviceAttributes_t;

typedef struct { unsigned int start, size; } nvmlGpuInstancePlacement_t;

typedef struct {
    unsigned int version, id, isP2pSupported, sliceCount, instanceCount, multiprocessorCount,
        copyEngineCount, decoderCount, encoderCount, jpegCount, ofaCount;
    unsigned long long memorySizeMB;
    char name[NVML_DEVICE_NAME_V2_BUFFER_SIZE];
} nvmlGpuInstanceProfileInfo_v2_t;

typedef struct {
    nvmlDevice_t device;
    unsigned int id, profileId;
    nvmlGpuInstancePlacement_t placement;
} nvmlGpuInstanceInfo_t;

typedef struct {
    unsigned int version, id, sliceCount, instanceCount, multiprocessorCount,
        sharedCopyEngineCount, sharedDecoderCount, sharedEncoderCount, sharedJpegCount,
        sharedOfaCount;
    char name[NVML_DEVICE_NAME_V2_BUFFER_SIZE];
} nvmlComputeInstanceProfileInfo_v2_t;

typedef struct {
    nvmlDevice_t device;
    unsigned long long eventType, eventData;
    unsigned int gpuInstanceId, computeInstanceId;
} nvmlEventData_t;

typedef union {
    double dVal; int siVal; unsigned int uiVal; unsigned long ulVal;
    unsigned long long ullVal; signed long long sllVal; unsigned short usVal;
} nvmlValue_t;

typedef struct {
    unsigned int fieldId, scopeId;
    long long timestamp, latencyUsec;
    int valueType;
    nvmlReturn_t nvmlReturn;
    nvmlValue_t value;
} nvmlFieldValue_t;

typedef struct {
    unsigned int version;
    unsigned char clusterUuid[16];
    nvmlReturn_t status;
    unsigned int cliqueId;
    unsigned char state;
    unsigned int healthMask;
} nvmlGpuFabricInfo_v2_t;

/* ---- the simulated node -------------------------------------------------------------- */
#define MAGIC_GPU 0x47505530u
#define MAGIC_MIG 0x4d494730u
#define MAGIC_GI 0x47493030u
#define MAGIC_CI 0x43493030u
#define MAGIC_EVENTS 0x45565430u
#define NGPU 2
#define MAX_GI 8

struct nvmlDevice_st { unsigned int magic; int gpu; int gi_slot; };
struct nvmlGpuInstance_st { unsigned int magic; int used, gpu, id, profile_id, start, size, ci_id; };
struct nvmlComputeInstance_st { unsigned int magic; int gpu, gi_slot; };
struct nvmlEventSet_st { unsigned int magic; unsigned long long mask[NGPU]; long offset; };

struct profile { unsigned int index, id, slices, sms, mem_mb, ce, dec, enc, jpg, ofa; const char *name;
                 int starts[8]; int nstarts; int size; };
static const struct profile PROFILES[] = {
    {0x0, 19, 1, 16, 9856, 1, 1, 0, 1, 0, "MIG 1g.10gb", {0, 1, 2, 3, 4, 5, 6}, 7, 1},
    {0x2, 9, 3, 60, 40192, 3, 3, 0, 3, 0, "MIG 3g.40gb", {0, 4}, 2, 4},
    {0x4, 0, 7, 132, 80896, 8, 7, 0, 7, 1, "MIG 7g.80gb", {0}, 1, 8},
};
#define NPROFILES (sizeof(PROFILES) / sizeof(PROFILES[0]))

static const char *NAMES[NGPU] = {"NVIDIA H100 80GB HBM3", "NVIDIA L4"};
static const char *UUIDS[NGPU] = {"GPU-11111111-2222-3333-4444-555555555555",
                                  "GPU-66666666-7777-8888-9999-000000000000"};
static const char *BUS_IDS[NGPU] = {"00000000:18:00.0", "00000000:3B:00.0"};

static struct nvmlDevice_st gpus[NGPU];
static struct nvmlDevice_st migs[NGPU][MAX_GI];
static struct nvmlGpuInstance_st gis[NGPU][MAX_GI];
static struct nvmlComputeInstance_st cis[NGPU][MAX_GI];
static int initialized;

/* Without $FAKE_NVML_DIR the fake keeps no files: an unrelated process that happens to
   load it (it has the soname libnvidia-ml.so.1) must not litter its working directory. */
static int path_of(char *buf, size_t n, const char *name) {
    const char *dir = getenv("FAKE_NVML_DIR");
    if (!dir || !*dir) return 0;
    snprintf(buf, n, "%s/%s", dir, name);
    return 1;
}

static void log_call(const char *fmt, const char *fn, long a, long b) {
    char path[4096];
    if (!path_of(path, sizeof path, "calls.log")) return;
    FILE *f = fopen(path, "a");
    if (!f) return;
    fprintf(f, fmt, fn, a, b);
    fputc('\n', f);
    fclose(f);
}
#define LOG(fn) log_call("%s", fn, 0, 0)

static int mig_on(int gpu) {
    const char *off = getenv("FAKE_NVML_MIG_OFF");
    return gpu == 0 && !(off && *off == '1');
}

static void load_state(void) {
    char path[4096];
    memset(gis, 0, sizeof gis);
    if (!path_of(path, sizeof path, "mig.state")) return;
    FILE *f = fopen(path, "r");
    if (!f) return;
    int gpu, id, profile, start, size, ci;
    while (fscanf(f, "%d %d %d %d %d %d", &gpu, &id, &profile, &start, &size, &ci) == 6) {
        if (gpu < 0 || gpu >= NGPU || id < 1 || id > MAX_GI) continue;
        struct nvmlGpuInstance_st *g = &gis[gpu][id - 1];
        g->used = 1; g->gpu = gpu; g->id = id; g->profile_id = profile;
        g->start = start; g->size = size; g->ci_id = ci;
    }
    fclose(f);
}

static void save_state(void) {
    char path[4096], tmp[4200];
    if (!path_of(path, sizeof path, "mig.state")) return;
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return;
    for (int gpu = 0; gpu < NGPU; gpu++)
        for (int s = 0; s < MAX_GI; s++)
            if (gis[gpu][s].used) {
                struct nvmlGpuInstance_st *g = &gis[gpu][s];
                fprintf(f, "%d %d %d %d %d %d\n", gpu, g->id, g->profile_id, g->start, g->size, g->ci_id);
            }
    fclose(f);
    rename(tmp, path);
}

static int lost(int gpu) {
    char path[4096], name[160];
    snprintf(name, sizeof name, "lost-%s", UUIDS[gpu]);
    return path_of(path, sizeof path, name) && access(path, F_OK) == 0;
}

/* A device argument: a full GPU or (when allow_mig) a MIG device; NULL when invalid. */
static struct nvmlDevice_st *dev(nvmlDevice_t d, int allow_mig) {
    if (!d) return NULL;
    if (d->magic == MAGIC_GPU) return d;
    if (allow_mig && d->magic == MAGIC_MIG) return d;
    return NULL;
}

#define CHECK_INIT() do { if (!initialized) return NVML_ERROR_UNINITIALIZED; } while (0)
#define GPU_ARG(d, out) struct nvmlDevice_st *out = dev(d, 0); \
    if (!out) return NVML_ERROR_INVALID_ARGUMENT; \
    if (lost(out->gpu)) return NVML_ERROR_GPU_IS_LOST

static const struct profile *profile_by_id(unsigned int id) {
    for (size_t i = 0; i < NPROFILES; i++) if (PROFILES[i].id == id) return &PROFILES[i];
    return NULL;
}

/* ---- init, system ----------------------------------------------------------------- */
nvmlReturn_t nvmlInitWithFlags(unsigned int flags) {
    (void)flags;
    for (int g = 0; g < NGPU; g++) {
        gpus[g].magic = MAGIC_GPU; gpus[g].gpu = g; gpus[g].gi_slot = -1;
        for (int s = 0; s < MAX_GI; s++) {
            migs[g][s].magic = MAGIC_MIG; migs[g][s].gpu = g; migs[g][s].gi_slot = s;
            cis[g][s].magic = MAGIC_CI; cis[g][s].gpu = g; cis[g][s].gi_slot = s;
        }
    }
    load_state();
    for (int g = 0; g < NGPU; g++) for (int s = 0; s < MAX_GI; s++) gis[g][s].magic = MAGIC_GI;
    initialized++;
    LOG("nvmlInitWithFlags");
    return NVML_SUCCESS;
}
nvmlReturn_t nvmlInit_v2(void) { return nvmlInitWithFlags(0); }
nvmlReturn_t nvmlShutdown(void) {
    CHECK_INIT();
    initialized--;
    return NVML_SUCCESS;
}

const char *nvmlErrorString(nvmlReturn_t result) {
    switch (result) {
    case NVML_SUCCESS: return "Success";
    case NVML_ERROR_UNINITIALIZED: return "Uninitialized";
    case NVML_ERROR_INVALID_ARGUMENT: return "Invalid Argument";
    case NVML_ERROR_NOT_SUPPORTED: return "Not Supported";
    case NVML_ERROR_NOT_FOUND: return "Not Found";
    case NVML_ERROR_INSUFFICIENT_SIZE: return "Insufficient Size";
    case NVML_ERROR_TIMEOUT: return "Timeout";
    case NVML_ERROR_GPU_IS_LOST: return "GPU is lost";
    case NVML_ERROR_IN_USE: return "In use by another client";
    case NVML_ERROR_INSUFFICIENT_RESOURCES: return "Insufficient resources";
    case NVML_ERROR_ARGUMENT_VERSION_MISMATCH: return "Version mismatch";
    default: return "Unknown Error";
    }
}

nvmlReturn_t nvmlSystemGetDriverVersion(char *version, unsigned int length) {
    CHECK_INIT();
    if (!version) return NVML_ERROR_INVALID_ARGUMENT;
    const char *v = "550.54.15";
    if (length < strlen(v) + 1) return NVML_ERROR_INSUFFICIENT_SIZE;
    strcpy(version, v);
    return NVML_SUCCESS;
}
nvmlReturn_t nvmlSystemGetCudaDriverVersion(int *cudaDriverVersion) {
    if (!cudaDriverVersion) return NVML_ERROR_INVALID_ARGUMENT;
    *cudaDriverVersion = 12040;
    return NVML_SUCCESS;
}

/* ---- devices ---------------------------------------------------------------------- */
nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *deviceCount) {
    CHECK_INIT();
    if (!deviceCount) return NVML_ERROR_INVALID_ARGUMENT;
    *deviceCount = NGPU;
    return NVML_SUCCESS;
}
nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device) {
    CHECK_INIT();
    if (index >= NGPU || !device) return NVML_ERROR_INVALID_ARGUMENT;
    *device = &gpus[index];
    return NVML_SUCCESS;
}
nvmlReturn_t nvmlDeviceGetHandleByUUID(const char *uuid, nvmlDevice_t *device) {
    CHECK_INIT();
    if (!uuid || !device) return NVML_ERROR_INVALID_ARGUMENT;
    for (int g = 0; g < NGPU; g++)
        if (strcmp(uuid, UUIDS[g]) == 0) {
            if (lost(g)) return NVML_ERROR_GPU_IS_LOST;
            *device = &gpus[g];
            return NVML_SUCCESS;
        }
    return NVML_ERROR_NOT_FOUND;
}

static void mig_uuid(char *buf, size_t n, int gpu, int gi_id) {
    snprintf(buf, n, "MIG-%08d-aaaa-bbbb-cccc-%012d", gpu, gi_id);
}

nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t device, char *uuid, unsigned int length) {
    CHECK_INIT();
    struct nvmlDevice_st *d = dev(device, 1);
    if (!d || !uuid) return NVML_ERROR_INVALID_ARGUMENT;
    char buf[NVML_DEVICE_UUID_V2_BUFFER_SIZE];
    if (d->magic == MAGIC_MIG) mig_uuid(buf, sizeof buf, d->gpu, gis[d->gpu][d->gi_slot].id);
    else snprintf(buf, sizeof buf, "%s", UUIDS[d->gpu]);
    if (length < strlen(buf) + 1) return NVML_ERROR_INSUFFICIENT_SIZE;
    strcpy(uuid, buf);
    return NVML_SUCCESS;
}
nvmlReturn_t nvmlDeviceGetMinorNumber(nvmlDevice_t device, unsigned int *minorNumber) {
    CHECK_INIT();
    GPU_ARG(device, d);
    if (!minorNumber) return NVML_ERROR_INVALID_ARGUMENT;
    *minorNumber = (unsigned int)d->gpu;
    return NVML_SUCCESS;
}
nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t device, char *name, unsigned int length) {
    CHECK_INIT();
    GPU_ARG(device, d);
    if (!name) return NVML_ERROR_INVALID_ARGUMENT;
    if (length < strlen(NAMES[d->gpu]) + 1) return NVML_ERROR_INSUFFICIENT_SIZE;
    strcpy(name, NAMES[d->gpu]);
    return NVML_SUCCESS;
}
nvmlReturn_t nvmlDeviceGetBrand(nvmlDevice_t device, int *type) {
    CHECK_INIT();
    GPU_ARG(device, d);
    if (!type) return NVML_ERROR_INVALID_ARGUMENT;
    *type = d->gpu == 0 ? 2 /* Tesla */ : 14 /* Nvidia */;
    return NVML_SUCCESS;
}
nvmlReturn_t nvmlDeviceGetArchitecture(nvmlDevice_t device, unsigned int *arch) {
    CHECK_INIT();
    GPU_ARG(device, d);
    if (!arch) return NVML_ERROR_INVALID_ARGUMENT;
    *arch = d->gpu == 0 ? 9 /* Hopper */ : 8 /* Ada */;
    return NVML_SUCCESS;
}
nvmlReturn_t nvmlDeviceGetCudaComputeCapability(nvmlDevice_t device, int *major, int *minor) {
    CHECK_INIT();
    GPU_ARG(device, d);
    if (!major || !minor) return NVML_ERROR_INVALID_ARGUMENT;
    *major = d->gpu == 0 ? 9 : 8;
    *minor = d->gpu == 0 ? 0 : 9;
    return NVML_SUCCESS;
}
nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t *memory) {
    CHECK_INIT();
    GPU_ARG(device, d);
    if (!memory) return NVML_ERROR_INVALID_ARGUMENT;
    memory->total = d->gpu == 0 ? 85520809984ULL : 24152899584ULL;
    memory->used = 0;
    memory->free = memory->total;
    return NVML_SUCCESS;
}
nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t device, nvmlPciInfo_t *pci) {
    CHECK_INIT();
    GPU_ARG(device, d);
    if (!pci) return NVML_ERROR_INVALID_ARGUMENT;
    memset(pci, 0, sizeof *pci);
    snprintf(pci->busId, sizeof pci->busId, "%s", BUS_IDS[d->gpu]);
    snprintf(pci->busIdLegacy, sizeof pci->busIdLegacy, "%s", BUS_IDS[d->gpu] + 4);
    pci->bus = d->gpu == 0 ? 0x18 : 0x3b;
    return NVML_SUCCESS;
}
nvmlReturn_t nvmlDeviceGetNumaNodeId(nvmlDevice_t device, unsigned int *node) {
    CHECK_INIT();
    GPU_ARG(device, d);
    if (!node) return NVML_ERROR_INVALID_ARGUMENT;
    *node = (unsigned int)d->gpu;
    return NVML_SUCCESS;
}
nvmlReturn_t nvmlDeviceGetAttributes_v2(nvmlDevice_t device, nvmlDeviceAttributes_t *attributes) {
    CHECK_INIT();
    struct nvmlDevice_st *d = dev(device, 1);
    if (!d || !attributes) return NVML_ERROR_INVALID_ARGUMENT;
    memset(attributes, 0, sizeof *attributes);
    if (d->magic == MAGIC_GPU) {
        attributes->multiprocessorCount = d->gpu == 0 ? 132 : 58;
        attributes->memorySizeMB = d->gpu == 0 ? 81559 : 23034;
        return NVML_SUCCESS;
    }
    const struct profile *p = profile_by_id((unsigned int)gis[d->gpu][d->gi_slot].profile_id);
    if (!p) return NVML_ERROR_UNKNOWN;
    attributes->multiprocessorCount = p->sms;
    attributes->sharedCopyEngineCount = p->ce;
    attributes->sharedDecoderCount = p->dec;
    attributes->sharedEncoderCount = p->enc;
    attributes->sharedJpegCount = p->jpg;
    attributes->sharedOfaCount = p->ofa;
    attributes->gpuInstanceSliceCount = p->slices;
    attributes->computeInstanceSliceCount = p->slices;
    attributes->memorySizeMB = p->mem_mb;
    return NVML_SUCCESS;
}
nvmlReturn_t nvmlDeviceGetP2PStatus(nvmlDevice_t device1, nvmlDevice_t device2, int p2pIndex, int *p2pStatus) {
    CHECK_INIT();
    (void)p2pIndex;
    if (!dev(device1, 0) || !dev(device2, 0) || !p2pStatus) return NVML_ERROR_INVALID_ARGUMENT;
    *p2pStatus = 5; /* NVML_P2P_STATUS_NOT_SUPPORTED: no NVLink between these two */
    return NVML_SUCCESS;
}
nvmlReturn_t nvmlDeviceGetGpuFabricInfoV(nvmlDevice_t device, nvmlGpuFabricInfo_v2_t *info) {
    CHECK_INIT();
    GPU_ARG(device, d);
    (void)d;
    if (!info) return NVML_ERROR_INVALID_ARGUMENT;
    if (info->version != NVML_STRUCT_VERSION(sizeof(nvmlGpuFabricInfo_v2_t), 2))
        return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
    memset(info->clusterUuid, 0, sizeof info->clusterUuid);
    info->state = 0; /* NVML_GPU_FABRIC_STATE_NOT_SUPPORTED */
    info->status = NVML_SUCCESS;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetFieldValues(nvmlDevice_t device, int valuesCount, nvmlFieldValue_t *values) {
    CHECK_INIT();
    GPU_ARG(device, d);
    if (valuesCount < 0 || (valuesCount > 0 && !values)) return NVML_ERROR_INVALID_ARGUMENT;
    for (int i = 0; i < valuesCount; i++) {
        nvmlFieldValue_t *v = &values[i];
        v->timestamp = (long long)time(NULL) * 1000000LL;
        v->latencyUsec = 0;
        if (v->fieldId != FIELD_GPU_RECOVERY_ACTION) {
            v->nvmlReturn = NVML_ERROR_NOT_SUPPORTED;
            continue;
        }
        char path[4096], name[160];
        snprintf(name, sizeof name, "recovery-%s", UUIDS[d->gpu]);
        unsigned int action = 0;
        FILE *f = path_of(path, sizeof path, name) ? fopen(path, "r") : NULL;
        if (f) { if (fscanf(f, "%u", &action) != 1) action = 0; fclose(f); }
        v->valueType = 1; /* NVML_VALUE_TYPE_UNSIGNED_INT */
        v->nvmlReturn = NVML_SUCCESS;
        v->value.uiVal = action;
    }
    return NVML_SUCCESS;
}

/* ---- compute mode -------------------------------------------------------------------- */
/* nvml.h: nvmlReturn_t nvmlDeviceGetComputeMode(nvmlDevice_t device, nvmlComputeMode_t *mode);
 * a full GPU or a MIG device handle; the mode is written through the pointer. */
nvmlReturn_t nvmlDeviceGetComputeMode(nvmlDevice_t device, nvmlComputeMode_t *mode) {
    CHECK_INIT();
    struct nvmlDevice_st *d = dev(device, 1);
    if (!d) return NVML_ERROR_INVALID_ARGUMENT;
    if (lost(d->gpu)) return NVML_ERROR_GPU_IS_LOST;
    if (!mode) return NVML_ERROR_INVALID_ARGUMENT;
    char path[4096], name[160];
    snprintf(name, sizeof name, "computemode-%s", UUIDS[d->gpu]);
    unsigned int value = NVML_COMPUTEMODE_DEFAULT;
    FILE *f = path_of(path, sizeof path, name) ? fopen(path, "r") : NULL;
    if (f) { if (fscanf(f, "%u", &value) != 1) value = 0; fclose(f); }
    LOG("nvmlDeviceGetComputeMode");
    *mode = (nvmlComputeMode_t)value;
    return NVML_SUCCESS;
}

/* ---- MIG ----------------------------------------------------------------------------- */
nvmlReturn_t nvmlDeviceGetMigMode(nvmlDevice_t device, unsigned int *currentMode, unsigned int *pendingMode) {
    CHECK_INIT();
    GPU_ARG(device, d);
    if (!currentMode || !pendingMode) return NVML_ERROR_INVALID_ARGUMENT;
    if (d->gpu != 0) return NVML_ERROR_NOT_SUPPORTED;
    *currentMode = *pendingMode = (unsigned int)mig_on(0);
    return NVML_SUCCESS;
}
nvmlReturn_t nvmlDeviceGetGpuInstanceProfileInfoV(nvmlDevice_t device, unsigned int profile,
                                                  nvmlGpuInstanceProfileInfo_v2_t *info) {
    CHECK_INIT();
    GPU_ARG(device, d);
    if (!info) return NVML_ERROR_INVALID_ARGUMENT;
    if (info->version != NVML_STRUCT_VERSION(sizeof(nvmlGpuInstanceProfileInfo_v2_t), 2))
        return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
    if (d->gpu != 0) return NVML_ERROR_NOT_SUPPORTED;
    for (size_t i = 0; i < NPROFILES; i++) {
        const struct profile *p = &PROFILES[i];
        if (p->index != profile) continue;
        info->id = p->id; info->isP2pSupported = 0; info->sliceCount = p->slices;
        info->instanceCount = (unsigned int)p->nstarts; info->multiprocessorCount = p->sms;
        info->copyEngineCount = p->ce; info->decoderCount = p->dec; info->encoderCount = p->enc;
        info->jpegCount = p->jpg; info->ofaCount = p->ofa; info->memorySizeMB = p->mem_mb;
        snprintf(info->name, sizeof info->name, "%s", p->name);
        return NVML_SUCCESS;
    }
    return NVML_ERROR_INVALID_ARGUMENT;
}
nvmlReturn_t nvmlDeviceGetGpuInstancePossiblePlacements_v2(nvmlDevice_t device, unsigned int profileId,
                                                          nvmlGpuInstancePlacement_t *placements,
                                                          unsigned int *count) {
    CHECK_INIT();
    GPU_ARG(device, d);
    if (!count) return NVML_ERROR_INVALID_ARGUMENT;
    const struct profile *p = profile_by_id(profileId);
    if (d->gpu != 0 || !p) return NVML_ERROR_NOT_SUPPORTED;
    if (!placements) { *count = (unsigned int)p->nstarts; return NVML_SUCCESS; }
    if (*count < (unsigned int)p->nstarts) return NVML_ERROR_INSUFFICIENT_SIZE;
    for (int i = 0; i < p->nstarts; i++) {
        placements[i].start = (unsigned int)p->starts[i];
        placements[i].size = (unsigned int)p->size;
    }
    *count = (unsigned int)p->nstarts;
    return NVML_SUCCESS;
}
nvmlReturn_t nvmlDeviceGetMaxMigDeviceCount(nvmlDevice_t device, unsigned int *count) {
    CHECK_INIT();
    GPU_ARG(device, d);
    if (!count) return NVML_ERROR_INVALID_ARGUMENT;
    *count = d->gpu == 0 ? 7 : 0;
    return NVML_SUCCESS;
}
nvmlReturn_t nvmlDeviceGetMigDeviceHandleByIndex(nvmlDevice_t device, unsigned int index, nvmlDevice_t *migDevice) {
    CHECK_INIT();
    GPU_ARG(device, d);
    if (!migDevice) return NVML_ERROR_INVALID_ARGUMENT;
    if (!mig_on(d->gpu)) return NVML_ERROR_NOT_SUPPORTED;
    unsigned int n = 0;
    for (int s = 0; s < MAX_GI; s++) {
        if (!gis[d->gpu][s].used || gis[d->gpu][s].ci_id < 0) continue;
        if (n++ == index) { *migDevice = &migs[d->gpu][s]; return NVML_SUCCESS; }
    }
    return NVML_ERROR_NOT_FOUND;
}
nvmlReturn_t nvmlDeviceGetGpuInstanceId(nvmlDevice_t device, unsigned int *id) {
    CHECK_INIT();
    struct nvmlDevice_st *d = dev(device, 1);
    if (!d || !id) return NVML_ERROR_INVALID_ARGUMENT;
    if (d->magic != MAGIC_MIG) return NVML_ERROR_NOT_SUPPORTED;
    *id = (unsigned int)gis[d->gpu][d->gi_slot].id;
    return NVML_SUCCESS;
}
nvmlReturn_t nvmlDeviceGetComputeInstanceId(nvmlDevice_t device, unsigned int *id) {
    CHECK_INIT();
    struct nvmlDevice_st *d = dev(device, 1);
    if (!d || !id) return NVML_ERROR_INVALID_ARGUMENT;
    if (d->magic != MAGIC_MIG) return NVML_ERROR_NOT_SUPPORTED;
    *id = (unsigned int)gis[d->gpu][d->gi_slot].ci_id;
    return NVML_SUCCESS;
}
nvmlReturn_t nvmlDeviceGetGpuInstanceById(nvmlDevice_t device, unsigned int id, nvmlGpuInstance_t *gpuInstance) {
    CHECK_INIT();
    GPU_ARG(device, d);
    if (!gpuInstance || id < 1 || id > MAX_GI) return NVML_ERROR_INVALID_ARGUMENT;
    if (!mig_on(d->gpu)) return NVML_ERROR_NOT_SUPPORTED;
    if (!gis[d->gpu][id - 1].used) return NVML_ERROR_NOT_FOUND;
    *gpuInstance = &gis[d->gpu][id - 1];
    return NVML_SUCCESS;
}
nvmlReturn_t nvmlDeviceGetGpuInstances(nvmlDevice_t device, unsigned int profileId,
                                       nvmlGpuInstance_t *gpuInstances, unsigned int *count) {
    CHECK_INIT();
    GPU_ARG(device, d);
    if (!gpuInstances || !count) return NVML_ERROR_INVALID_ARGUMENT;
    if (!mig_on(d->gpu)) return NVML_ERROR_NOT_SUPPORTED;
    unsigned int n = 0;
    for (int s = 0; s < MAX_GI; s++)
        if (gis[d->gpu][s].used && gis[d->gpu][s].profile_id == (int)profileId) gpuInstances[n++] = &gis[d->gpu][s];
    *count = n;
    return NVML_SUCCESS;
}

static struct nvmlGpuInstance_st *gi_arg(nvmlGpuInstance_t g) {
    if (!g || g->magic != MAGIC_GI || !g->used) return NULL;
    return g;
}

nvmlReturn_t nvmlGpuInstanceGetInfo(nvmlGpuInstance_t gpuInstance, nvmlGpuInstanceInfo_t *info) {
    CHECK_INIT();
    struct nvmlGpuInstance_st *g = gi_arg(gpuInstance);
    if (!g || !info) return NVML_ERROR_INVALID_ARGUMENT;
    info->device = &gpus[g->gpu];
    info->id = (unsigned int)g->id;
    info->profileId = (unsigned int)g->profile_id;
    info->placement.start = (unsigned int)g->start;
    info->placement.size = (unsigned int)g->size;
    return NVML_SUCCESS;
}

/* The one that crashed: placement is a pointer (const nvmlGpuInstancePlacement_t *). */
nvmlReturn_t nvmlDeviceCreateGpuInstanceWithPlacement(nvmlDevice_t device, unsigned int profileId,
                                                      const nvmlGpuInstancePlacement_t *placement,
                                                      nvmlGpuInstance_t *gpuInstance) {
    CHECK_INIT();
    GPU_ARG(device, d);
    if (!placement || !gpuInstance) return NVML_ERROR_INVALID_ARGUMENT;
    unsigned int start = placement->start, size = placement->size; /* dereferenced, as NVML does */
    log_call("%s start=%ld size=%ld", "nvmlDeviceCreateGpuInstanceWithPlacement", (long)start, (long)size);
    if (!mig_on(d->gpu)) return NVML_ERROR_NOT_SUPPORTED;
    const struct profile *p = profile_by_id(profileId);
    if (!p) return NVML_ERROR_INVALID_ARGUMENT;
    int ok = 0;
    for (int i = 0; i < p->nstarts; i++) if ((unsigned int)p->starts[i] == start) ok = 1;
    if (!ok || size != (unsigned int)p->size) return NVML_ERROR_INVALID_ARGUMENT;
    for (int s = 0; s < MAX_GI; s++) {
        struct nvmlGpuInstance_st *g = &gis[d->gpu][s];
        if (g->used && !((unsigned int)g->start + (unsigned int)g->size <= start || start + size <= (unsigned int)g->start))
            return NVML_ERROR_INSUFFICIENT_RESOURCES;
    }
    for (int s = 0; s < MAX_GI; s++) {
        struct nvmlGpuInstance_st *g = &gis[d->gpu][s];
        if (g->used) continue;
        g->used = 1; g->gpu = d->gpu; g->id = s + 1; g->profile_id = (int)profileId;
        g->start = (int)start; g->size = (int)size; g->ci_id = -1; g->magic = MAGIC_GI;
        save_state();
        *gpuInstance = g;
        return NVML_SUCCESS;
    }
    return NVML_ERROR_INSUFFICIENT_RESOURCES;
}
nvmlReturn_t nvmlGpuInstanceDestroy(nvmlGpuInstance_t gpuInstance) {
    CHECK_INIT();
    struct nvmlGpuInstance_st *g = gi_arg(gpuInstance);
    if (!g) return NVML_ERROR_INVALID_ARGUMENT;
    if (g->ci_id >= 0) return NVML_ERROR_IN_USE;
    LOG("nvmlGpuInstanceDestroy");
    g->used = 0;
    save_state();
    return NVML_SUCCESS;
}
nvmlReturn_t nvmlGpuInstanceGetComputeInstanceProfileInfoV(nvmlGpuInstance_t gpuInstance, unsigned int profile,
                                                           unsigned int engProfile,
                                                           nvmlComputeInstanceProfileInfo_v2_t *info) {
    CHECK_INIT();
    struct nvmlGpuInstance_st *g = gi_arg(gpuInstance);
    if (!g || !info || engProfile != 0) return NVML_ERROR_INVALID_ARGUMENT;
    if (info->version != NVML_STRUCT_VERSION(sizeof(nvmlComputeInstanceProfileInfo_v2_t), 2))
        return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
    const struct profile *p = profile_by_id((unsigned int)g->profile_id);
    /* Only the full compute instance of each GPU instance is simulated. Compute-instance
       profile indexes: 0x0 1 slice, 0x1 2, 0x2 3, 0x3 4, 0x4 7, 0x5 8, 0x6 6. */
    static const unsigned int slices_of_index[] = {1, 2, 3, 4, 7, 8, 6};
    if (profile >= sizeof slices_of_index / sizeof slices_of_index[0] || slices_of_index[profile] != p->slices)
        return NVML_ERROR_NOT_SUPPORTED;
    memset((char *)info + sizeof info->version, 0, sizeof *info - sizeof info->version);
    info->id = profile; info->sliceCount = p->slices; info->instanceCount = 1;
    info->multiprocessorCount = p->sms;
    snprintf(info->name, sizeof info->name, "%s", p->name);
    return NVML_SUCCESS;
}
nvmlReturn_t nvmlGpuInstanceCreateComputeInstance(nvmlGpuInstance_t gpuInstance, unsigned int profileId,
                                                  nvmlComputeInstance_t *computeInstance) {
    CHECK_INIT();
    struct nvmlGpuInstance_st *g = gi_arg(gpuInstance);
    if (!g || !computeInstance) return NVML_ERROR_INVALID_ARGUMENT;
    if (g->ci_id >= 0) return NVML_ERROR_INSUFFICIENT_RESOURCES;
    g->ci_id = 0;
    (void)profileId;
    save_state();
    *computeInstance = &cis[g->gpu][g->id - 1];
    return NVML_SUCCESS;
}
nvmlReturn_t nvmlGpuInstanceGetComputeInstances(nvmlGpuInstance_t gpuInstance, unsigned int profileId,
                                                nvmlComputeInstance_t *computeInstances, unsigned int *count) {
    CHECK_INIT();
    struct nvmlGpuInstance_st *g = gi_arg(gpuInstance);
    if (!g || !computeInstances || !count) return NVML_ERROR_INVALID_ARGUMENT;
    const struct profile *p = profile_by_id((unsigned int)g->profile_id);
    static const unsigned int slices_of_index[] = {1, 2, 3, 4, 7, 8, 6};
    unsigned int n = 0;
    if (g->ci_id >= 0 && profileId < 7 && slices_of_index[profileId] == p->slices)
        computeInstances[n++] = &cis[g->gpu][g->id - 1];
    *count = n;
    return NVML_SUCCESS;
}
nvmlReturn_t nvmlComputeInstanceDestroy(nvmlComputeInstance_t computeInstance) {
    CHECK_INIT();
    if (!computeInstance || computeInstance->magic != MAGIC_CI) return NVML_ERROR_INVALID_ARGUMENT;
    struct nvmlGpuInstance_st *g = &gis[computeInstance->gpu][computeInstance->gi_slot];
    if (!g->used || g->ci_id < 0) return NVML_ERROR_INVALID_ARGUMENT;
    g->ci_id = -1;
    save_state();
    return NVML_SUCCESS;
}

/* ---- events ---------------------------------------------------------------------------- */
static struct nvmlEventSet_st event_sets[4];

nvmlReturn_t nvmlEventSetCreate(nvmlEventSet_t *set) {
    CHECK_INIT();
    if (!set) return NVML_ERROR_INVALID_ARGUMENT;
    for (int i = 0; i < 4; i++)
        if (event_sets[i].magic != MAGIC_EVENTS) {
            memset(&event_sets[i], 0, sizeof event_sets[i]);
            event_sets[i].magic = MAGIC_EVENTS;
            *set = &event_sets[i];
            return NVML_SUCCESS;
        }
    return NVML_ERROR_INSUFFICIENT_RESOURCES;
}
nvmlReturn_t nvmlDeviceRegisterEvents(nvmlDevice_t device, unsigned long long eventTypes, nvmlEventSet_t set) {
    CHECK_INIT();
    GPU_ARG(device, d);
    if (!set || set->magic != MAGIC_EVENTS) return NVML_ERROR_INVALID_ARGUMENT;
    set->mask[d->gpu] |= eventTypes;
    log_call("%s mask=%ld gpu=%ld", "nvmlDeviceRegisterEvents", (long)eventTypes, (long)d->gpu);
    return NVML_SUCCESS;
}
nvmlReturn_t nvmlEventSetFree(nvmlEventSet_t set) {
    CHECK_INIT();
    if (!set || set->magic != MAGIC_EVENTS) return NVML_ERROR_INVALID_ARGUMENT;
    set->magic = 0;
    return NVML_SUCCESS;
}

/* Next event line after set->offset for a registered GPU; 1 when one was returned. */
static int next_event(nvmlEventSet_t set, nvmlEventData_t *data) {
    char path[4096], uuid[128], kind[16];
    if (!path_of(path, sizeof path, "events")) return 0;
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    if (fseek(f, set->offset, SEEK_SET) != 0) { fclose(f); return 0; }
    char line[512];
    int found = 0;
    while (!found && fgets(line, sizeof line, f)) {
        size_t len = strlen(line);
        if (len == 0 || line[len - 1] != '\n') break; /* a line still being written */
        set->offset = ftell(f);
        unsigned long long code = 0;
        int n = sscanf(line, "%127s %15s %llu", uuid, kind, &code);
        if (n < 2) continue;
        for (int g = 0; g < NGPU; g++) {
            if (strcmp(uuid, UUIDS[g]) != 0) continue;
            unsigned long long type = strcmp(kind, "xid") == 0 ? EVENT_XID
                                    : strcmp(kind, "dbe") == 0 ? EVENT_DBE
                                    : strcmp(kind, "sbe") == 0 ? EVENT_SBE : 0;
            if (!(set->mask[g] & type)) break;
            data->device = &gpus[g];
            data->eventType = type;
            data->eventData = type == EVENT_XID ? code : 0;
            data->gpuInstanceId = data->computeInstanceId = 0xFFFFFFFFu;
            found = 1;
            break;
        }
    }
    fclose(f);
    return found;
}

nvmlReturn_t nvmlEventSetWait_v2(nvmlEventSet_t set, nvmlEventData_t *data, unsigned int timeoutms) {
    CHECK_INIT();
    if (!set || set->magic != MAGIC_EVENTS || !data) return NVML_ERROR_INVALID_ARGUMENT;
    for (unsigned int waited = 0;; waited += 10) {
        for (int g = 0; g < NGPU; g++)
            if (set->mask[g] && lost(g)) return NVML_ERROR_GPU_IS_LOST;
        if (next_event(set, data)) return NVML_SUCCESS;
        if (waited >= timeoutms) return NVML_ERROR_TIMEOUT;
        usleep(10000);
    }
}
