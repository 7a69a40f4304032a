# Sourced by the launch scripts: lets OpenMPI run as root (containers, CI) and keeps its chatter down.
if [ "$(id -u)" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
export PMIX_MCA_pcompress_base_silence_warning=1

# mpirun_quiet: mpirun, minus the banners OpenMPI prints after mmtrain has already reported on one line
# why the run ended ("Primary job terminated normally, but 1 process returned a non-zero exit code",
# "mpirun detected that one or more processes exited with non-zero status", "MPI_ABORT was invoked").
# Everything else mpirun says (launch errors such as too few slots) still shows; its exit status is kept.
# `mpirun --quiet` would hide those launch errors too. MMTRAIN_MPIRUN_VERBOSE=1 shows everything.
mpirun_quiet() {
  if [ "${MMTRAIN_MPIRUN_VERBOSE:-0}" != 0 ]; then mpirun "$@"; return; fi
  local status
  # mpirun's stdout goes straight to ours (fd 3); its stderr through the filter. The filter ignores
  # SIGINT/SIGTERM so that it outlives mpirun's own handling of them (a dead reader would SIGPIPE mpirun).
  { mpirun "$@" 2>&1 1>&3 3>&- | (trap '' INT TERM; exec awk '
      /^--------------------+$/ {
        if (!inblock) { inblock = 1; block = $0 "\n"; next }
        block = block $0 "\n"; inblock = 0
        if (block !~ /Primary job +terminated normally|exited with non-zero status|MPI_ABORT was invoked/) printf "%s", block
        fflush(); next
      }
      inblock { block = block $0 "\n"; next }
      /more processes have sent help message help-mpi-api.txt \/ mpi-abort/ { aggregated = 1; next }
      aggregated && /Set MCA parameter "orte_base_help_aggregate"/ { aggregated = 0; next }
      { aggregated = 0; print; fflush() }
      END { if (inblock) printf "%s", block }') 1>&2 3>&-; status=${PIPESTATUS[0]}; } 3>&1
  return "$status"
}
