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
}
