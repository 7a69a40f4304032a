/// mmtrain's version: `mmtrain --version` prints it and every checkpoint records it (`mmtrain_version`).
public enum MMTrainVersion {
  public static let string = "0.2.0"
}
