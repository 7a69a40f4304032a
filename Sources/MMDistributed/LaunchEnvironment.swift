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
    for (name, r, n) in claims(env) where r != rank || (n != nil && n != size) {
      let said = n.map { "rank \(r) of \($0)" } ?? "rank \(r)"
      let head = "the launcher says this process is \(said) (\(name)), MPI says rank \(rank) of \(size): "
      if size == 1 && (n ?? 1) > 1 {
        return head
          + "every task believes it is rank 0 and would train alone. Under Slurm start the ranks with `srun --mpi=pmix` (see `srun --mpi=list`), or with mpirun inside the batch script (launch/slurm.sbatch does this)"
      }
      if let n, n > size {
        // Several MPI worlds out of one launch: on several nodes, typically one per node.
        let node = env["SLURMD_NODENAME"].map { " (this one on \($0))" } ?? ""
        return head
          + "the \(n) tasks formed separate MPI worlds of fewer ranks\(node), on several nodes usually one per node: the nodes' PMIx or MPI traffic does not reach the other nodes (a firewall, the wrong interface: OMPI_MCA_btl_tcp_if_include), or a launcher ran once per node; start all ranks with one `srun --mpi=pmix` or one mpirun"
      }
      return head
        + "the launcher and the MPI library disagree (an mpirun of another MPI, or srun with the wrong --mpi plugin); start mmtrain with this MPI's own mpirun, or `srun --mpi=pmix`"
    }
    return nil
  }

  /// The launcher's rank for this process (nil without a launcher), from the variables `mismatch` compares.
  /// In a launch split into several MPI worlds, the world holding the launcher's rank 0 reports.
  public static func launcherRank(environment env: [String: String] = ProcessInfo.processInfo.environment) -> Int? {
    claims(env).first?.1
  }

  /// (variable, rank, size) as the launcher set them.
  private static func claims(_ env: [String: String]) -> [(String, Int, Int?)] {
    func int(_ key: String) -> Int? { env[key].flatMap { Int($0) } }
    var claims: [(String, Int, Int?)] = []
    if let r = int("OMPI_COMM_WORLD_RANK") {
      claims.append(("OMPI_COMM_WORLD_RANK/SIZE", r, int("OMPI_COMM_WORLD_SIZE")))
    } else {
      // SLURM_STEP_NUM_TASKS is set only inside an srun step, not in the batch shell.
      if let r = int("SLURM_PROCID"), let n = int("SLURM_STEP_NUM_TASKS") {
        claims.append(("SLURM_PROCID/SLURM_STEP_NUM_TASKS", r, n))
      }
      if let r = int("PMIX_RANK") { claims.append(("PMIX_RANK", r, nil)) }
    }
    return claims
  }

  /// The rank to speak for a set of processes that cannot talk to each other (SLURM_PROCID 0 prints).
  public static var speaksAlone: Bool {
    (ProcessInfo.processInfo.environment["SLURM_PROCID"].flatMap { Int($0) } ?? 0) == 0
  }
}
