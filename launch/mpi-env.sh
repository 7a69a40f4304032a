# Sourced by the launch scripts: lets OpenMPI run as root (containers, CI) and keeps its chatter down.
if [ "$(id -u)" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
export PMIX_MCA_pcompress_base_silence_warning=1
