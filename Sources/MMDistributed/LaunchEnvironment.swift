import Foundation

/// The launcher's idea of this process's rank and world size, compared with MPI's. They disagree when the
/// launcher and the MPI library do not talk: the classic case is `srun` without `--mpi=pmix`, which starts
/// N independent singletons that each believe they are rank 0 of 1 and would each train the whole model
/// alone, writing the same run directory.
public enum LaunchEnvironment {
  /// nil when consistent; else one line naming the variables, MPI's answer, and the fix.
  /// Under mpirun (OMPI_COMM_WORLD_RANK set) only OpenMPI's variables count: the ranks inherit the batch
  /// shell's SLURM_PROCID=0, which says nothing about them.
  public static func mismatch(
    rank: Int, size: Int, environment env: [String: String] = ProcessInfo.processInfo.environment
  ) -> String? {
    func int(_ key: String) -> Int? { env[key].flatMap { Int($0) } }
    var claims: [(String, Int, Int?)] = []  // (variable, rank, size)
    if let r = int("OMPI_COMM_WORLD_RANK") {
      claims.append(("OMPI_COMM_WORLD_RANK/SIZE", r, int("OMPI_COMM_WORLD_SIZE")))
    } else {
      if let r = int("PMIX_RANK") { claims.append(("PMIX_RANK", r, nil)) }
      // SLURM_STEP_NUM_TASKS is set only inside an srun step, not in the batch shell.
      if let r = int("SLURM_PROCID"), let n = int("SLURM_STEP_NUM_TASKS") {
        claims.append(("SLURM_PROCID/SLURM_STEP_NUM_TASKS", r, n))
      }
    }
    for (name, r, n) in claims where r != rank || (n != nil && n != size) {
      let said = n.map { "rank \(r) of \($0)" } ?? "rank \(r)"
      return "the launcher says this process is \(said) (\(name)), MPI says rank \(rank) of \(size): "
        + (size == 1 && (n ?? 1) > 1
          ? "every task believes it is rank 0 and would train alone. Under Slurm start the ranks with `srun --mpi=pmix` (see `srun --mpi=list`), or with mpirun inside the batch script (launch/slurm.sbatch does this)"
          : "the launcher and the MPI library disagree (an mpirun of another MPI, or srun with the wrong --mpi plugin); start mmtrain with this MPI's own mpirun, or `srun --mpi=pmix`")
    }
    return nil
  }

  /// The rank to speak for a set of processes that cannot talk to each other (SLURM_PROCID 0 prints).
  public static var speaksAlone: Bool {
    (ProcessInfo.processInfo.environment["SLURM_PROCID"].flatMap { Int($0) } ?? 0) == 0
  }
}
