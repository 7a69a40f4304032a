import MMDistributed
import XCTest

/// The launcher's rank variables against MPI's answer.
final class LaunchEnvironmentTests: XCTestCase {
  func testSrunWithoutPMIxIsRefusedAndConsistentLaunchesPass() {
    // srun -n 4 without --mpi=pmix: task 2 sees SLURM_PROCID=2 of 4, MPI (a singleton) says 0 of 1.
    let srun = ["SLURM_PROCID": "2", "SLURM_STEP_NUM_TASKS": "4"]
    let message = LaunchEnvironment.mismatch(rank: 0, size: 1, environment: srun)
    XCTAssertTrue(
      message?.contains("rank 2 of 4 (SLURM_PROCID/SLURM_STEP_NUM_TASKS), MPI says rank 0 of 1") ?? false,
      message ?? "nil")
    XCTAssertTrue(message?.contains("srun --mpi=pmix") ?? false)
    // srun --mpi=pmix: consistent.
    XCTAssertNil(
      LaunchEnvironment.mismatch(rank: 2, size: 4, environment: srun.merging(["PMIX_RANK": "2"]) { a, _ in a }))
    // mpirun inside a batch script: the ranks inherit the shell's SLURM_PROCID=0; OpenMPI's variables count.
    let mpirun = [
      "SLURM_PROCID": "0", "SLURM_NTASKS": "4", "OMPI_COMM_WORLD_RANK": "3", "OMPI_COMM_WORLD_SIZE": "4",
      "PMIX_RANK": "3",
    ]
    XCTAssertNil(LaunchEnvironment.mismatch(rank: 3, size: 4, environment: mpirun))
    XCTAssertNotNil(LaunchEnvironment.mismatch(rank: 0, size: 1, environment: mpirun))
    // No launcher at all; or a plain batch shell (no step): nothing to compare.
    XCTAssertNil(LaunchEnvironment.mismatch(rank: 0, size: 1, environment: [:]))
    XCTAssertNil(LaunchEnvironment.mismatch(rank: 0, size: 1, environment: ["SLURM_PROCID": "0", "SLURM_NTASKS": "2"]))
  }

  func testSeparateWorldsOnSeveralNodesAreNamed() {
    // srun -N 2 -n 4 --mpi=pmix whose nodes cannot reach each other: each node's 2 tasks form a world of their
    // own. Task 2 (node2's first) is MPI rank 0 of 2; task 1 (node1's second) is MPI rank 1 of 2: the ranks
    // agree, the world sizes do not.
    let node2 = ["SLURM_PROCID": "2", "SLURM_STEP_NUM_TASKS": "4", "PMIX_RANK": "2", "SLURMD_NODENAME": "node2"]
    let message = LaunchEnvironment.mismatch(rank: 0, size: 2, environment: node2) ?? "nil"
    XCTAssertTrue(message.contains("rank 2 of 4 (SLURM_PROCID/SLURM_STEP_NUM_TASKS), MPI says rank 0 of 2"), message)
    XCTAssertTrue(message.contains("separate MPI worlds of fewer ranks (this one on node2)"), message)
    let node1 = ["SLURM_PROCID": "1", "SLURM_STEP_NUM_TASKS": "4", "PMIX_RANK": "1"]
    XCTAssertTrue(
      LaunchEnvironment.mismatch(rank: 1, size: 2, environment: node1)?.contains("separate MPI worlds") ?? false)
    // mpirun: its world size is the launcher's claim too.
    let mpirun = ["OMPI_COMM_WORLD_RANK": "3", "OMPI_COMM_WORLD_SIZE": "4"]
    XCTAssertTrue(
      LaunchEnvironment.mismatch(rank: 1, size: 2, environment: mpirun)?.contains("separate MPI worlds") ?? false)
    // The world with the launcher's rank 0 reports; node2's stays silent.
    XCTAssertEqual(LaunchEnvironment.launcherRank(environment: node2), 2)
    XCTAssertEqual(LaunchEnvironment.launcherRank(environment: ["SLURM_PROCID": "0", "SLURM_STEP_NUM_TASKS": "4"]), 0)
    XCTAssertNil(LaunchEnvironment.launcherRank(environment: [:]))
  }
}
