/* libtorch_optspec_preload.so: what to LD_PRELOAD.
 *
 * LD_PRELOAD applies to every process the variable reaches: a shell, a
 * launcher script, a Python interpreter before `import torch`, every child of
 * a server. libtorch_optspec.so depends on LibTorch (libtorch_cpu, libc10),
 * so preloading it into a process that has no LibTorch on its library path
 * makes the dynamic linker refuse to start it ("libtorch_cpu.so: cannot open
 * shared object file", exit 127), and adding LibTorch to LD_LIBRARY_PATH
 * loads LibTorch into every such process.
 *
 * This library depends on libc only. When the process starts it checks
 * whether LibTorch is already loaded (linked by the program: a LibTorch
 * host); if so it loads libtorch_optspec.so from its own directory, which
 * registers the pass (and enables it with TORCH_OPTSPEC_ENABLE=1). Otherwise
 * it does nothing: the process runs exactly as without it. A process that
 * loads LibTorch later (Python's `import torch`, a server that dlopen()s a
 * LibTorch backend) is not given the pass by it: Python imports
 * torch_optspec; such servers preload libtorch_optspec.so itself on their own
 * command line (docs/serving.md).
 *
 * If loading fails (a torch of another minor version, a missing file), one
 * line on stderr says so and the process carries on without the pass.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <limits.h>
#include <link.h>
#include <stdio.h>
#include <string.h>

#define LIBTORCH_SONAME "libtorch_cpu.so"
#define LIBRARY_NAME "libtorch_optspec.so"

/* dl_iterate_phdr callback: is this loaded object LibTorch's CPU library?
 * (A walk over what is loaded: no file-system search, no dlerror() state
 * left behind, unlike a dlopen(RTLD_NOLOAD) probe.) */
static int is_libtorch(struct dl_phdr_info* info, size_t size, void* found) {
  (void)size;
  const char* name = info->dlpi_name;
  if (name != NULL && name[0] != '\0') {
    const char* slash = strrchr(name, '/');
    if (strcmp(slash ? slash + 1 : name, LIBTORCH_SONAME) == 0) {
      *(int*)found = 1;
      return 1; /* stops the walk */
    }
  }
  return 0;
}

static void load_if_libtorch(void) {
  int found = 0;
  dl_iterate_phdr(is_libtorch, &found);
  if (!found) {
    return;
  }

  Dl_info self;
  if (dladdr((void*)&load_if_libtorch, &self) == 0 || self.dli_fname == NULL) {
    fprintf(stderr, "torch_optspec preload: cannot locate itself; the pass is not loaded\n");
    return;
  }
  char path[PATH_MAX];
  const char* slash = strrchr(self.dli_fname, '/');
  size_t dir_len = slash ? (size_t)(slash - self.dli_fname) + 1 : 0;
  if (dir_len + sizeof(LIBRARY_NAME) > sizeof(path)) {
    fprintf(stderr, "torch_optspec preload: path too long; the pass is not loaded\n");
    return;
  }
  memcpy(path, self.dli_fname, dir_len);
  memcpy(path + dir_len, LIBRARY_NAME, sizeof(LIBRARY_NAME));
  if (dlopen(path, RTLD_NOW | RTLD_GLOBAL) == NULL) {
    fprintf(stderr, "torch_optspec preload: %s; the process runs without the pass\n", dlerror());
  }
}

__attribute__((constructor)) static void torch_optspec_preload(void) {
  load_if_libtorch();
}
