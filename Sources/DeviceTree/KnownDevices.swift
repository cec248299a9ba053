import Foundation

/// The one table of compatibles that settle a node's DMA role without any
/// DMA property: controllers whose binding or programming model makes them
/// bus masters (descriptor rings and buffers in system memory), and common
/// nodes that never master the bus.
///
/// A compatible in neither list, on a node with no DMA property, is
/// `unknown`: the device tree does not say (Julien's objection in the seed
/// thread: "devices that do not have the iommus property could or could not
/// be DMA masters"). Patterns use `*` for any run of characters.
public enum KnownDevices {
  public struct Entry: Hashable, Sendable {
    public var pattern: String
    public var family: String
    /// Why the family masters the bus, or why it does not.
    public var reason: String
  }

  /// Bus masters. Each reason names the binding (Linux
  /// Documentation/devicetree/bindings/…) whose device the pattern covers.
  public static let busMasters: [Entry] = [
    // SATA: AHCI's command lists, FIS areas and PRDs are in system memory
    // (ata/ahci-common.yaml, ahci-platform.yaml; ceva,ahci-1v84.yaml).
    Entry(pattern: "generic-ahci", family: "AHCI SATA", reason: "AHCI fetches command lists and PRDs from memory"),
    Entry(pattern: "ceva,ahci-*", family: "AHCI SATA", reason: "AHCI fetches command lists and PRDs from memory"),
    Entry(pattern: "snps,dwc-ahci", family: "AHCI SATA", reason: "AHCI fetches command lists and PRDs from memory"),
    Entry(pattern: "*-ahci", family: "AHCI SATA", reason: "AHCI fetches command lists and PRDs from memory"),
    // SD/MMC: SDHCI's ADMA2 descriptor tables (mmc/arasan,sdhci.yaml,
    // sdhci-*.yaml); Synopsys DesignWare MSHC has an internal DMAC (IDMAC).
    Entry(pattern: "arasan,sdhci-*", family: "SDHCI", reason: "SDHCI ADMA reads descriptors and data from memory"),
    Entry(pattern: "*sdhci*", family: "SDHCI", reason: "SDHCI ADMA reads descriptors and data from memory"),
    Entry(pattern: "snps,dwcmshc*", family: "SDHCI", reason: "SDHCI ADMA reads descriptors and data from memory"),
    Entry(pattern: "*dw-mshc*", family: "DesignWare MMC", reason: "the IDMAC reads descriptors and data from memory"),
    // Ethernet: descriptor rings (net/cdns,macb.yaml; net/snps,dwmac.yaml).
    Entry(pattern: "cdns,gem", family: "Cadence GEM/macb Ethernet", reason: "descriptor rings in memory"),
    Entry(pattern: "cdns,*-gem", family: "Cadence GEM/macb Ethernet", reason: "descriptor rings in memory"),
    Entry(pattern: "cdns,macb", family: "Cadence GEM/macb Ethernet", reason: "descriptor rings in memory"),
    Entry(pattern: "cdns,*-macb", family: "Cadence GEM/macb Ethernet", reason: "descriptor rings in memory"),
    Entry(pattern: "snps,dwmac*", family: "Synopsys DesignWare Ethernet", reason: "descriptor rings in memory"),
    Entry(pattern: "snps,dwxgmac*", family: "Synopsys DesignWare Ethernet", reason: "descriptor rings in memory"),
    // USB host/dual-role controllers (usb/snps,dwc3.yaml, generic-xhci.yaml,
    // generic-ehci.yaml, generic-ohci.yaml, dwc2.yaml).
    Entry(pattern: "snps,dwc3", family: "DWC3 USB", reason: "xHCI/device-mode rings and TRBs in memory"),
    Entry(pattern: "snps,dwc2", family: "DWC2 USB", reason: "internal DMA mode reads buffers from memory"),
    Entry(pattern: "generic-xhci", family: "xHCI USB", reason: "xHCI rings and TRBs in memory"),
    Entry(pattern: "*xhci*", family: "xHCI USB", reason: "xHCI rings and TRBs in memory"),
    Entry(pattern: "generic-ehci", family: "EHCI USB", reason: "EHCI schedules in memory"),
    Entry(pattern: "generic-ohci", family: "OHCI USB", reason: "OHCI schedules in memory"),
    // PCIe host bridges (pci/host-generic-pci.yaml): endpoints behind them
    // master the bus. `device_type = "pci"` is recognised separately.
    Entry(pattern: "pci-host-*", family: "PCIe host bridge", reason: "endpoints behind it master the bus"),
    // GPUs (gpu/arm,mali-*.yaml; gpu/vivante,gc.yaml).
    Entry(pattern: "arm,mali-*", family: "GPU", reason: "the GPU reads and writes memory through its own MMU"),
    Entry(pattern: "*,mali-*", family: "GPU", reason: "the GPU reads and writes memory through its own MMU"),
    Entry(pattern: "vivante,gc", family: "GPU", reason: "the GPU reads and writes memory"),
    // Display engines scan out frame buffers from memory (display/arm,hdlcd.yaml,
    // display/arm,malidp.yaml, dma/xilinx/xlnx,zynqmp-dpdma.yaml,
    // display/arm,pl11x.yaml).
    Entry(pattern: "arm,hdlcd", family: "display DMA", reason: "scans out frame buffers from memory"),
    Entry(pattern: "arm,mali-d*", family: "display DMA", reason: "scans out frame buffers from memory"),
    Entry(pattern: "arm,pl111", family: "display DMA", reason: "scans out frame buffers from memory"),
    Entry(pattern: "*dpdma*", family: "display DMA", reason: "scans out frame buffers from memory"),
    // DMA engines, also when the node lacks #dma-cells
    // (dma/arm-pl330.yaml, dma/arm-pl08x.yaml, dma/xilinx/xlnx,zynqmp-dma-1.0.yaml).
    Entry(pattern: "arm,pl330", family: "DMA engine", reason: "memory-to-memory and peripheral DMA"),
    Entry(pattern: "arm,pl080", family: "DMA engine", reason: "memory-to-memory and peripheral DMA"),
    Entry(pattern: "arm,pl081", family: "DMA engine", reason: "memory-to-memory and peripheral DMA"),
    Entry(pattern: "xlnx,zynqmp-dma-*", family: "DMA engine", reason: "memory-to-memory and peripheral DMA"),
    // CoreSight ETR writes trace into a system-memory buffer
    // (arm/arm,coresight-tmc.yaml).
    Entry(pattern: "arm,coresight-tmc", family: "trace buffer", reason: "the ETR configuration writes trace to memory"),
  ]

  /// Nodes that are not DMA masters of dom0's: architectural timers, PSCI,
  /// PMUs, fixed clocks and regulators, GPIO keys and LEDs. [derived: none
  /// of their bindings has a memory interface beyond registers]
  public static let nonMasters: [Entry] = [
    Entry(pattern: "arm,armv8-timer", family: "timer", reason: "the generic timer has no memory interface"),
    Entry(pattern: "arm,armv7-timer", family: "timer", reason: "the generic timer has no memory interface"),
    Entry(pattern: "arm,psci*", family: "firmware", reason: "PSCI is a firmware call interface"),
    Entry(pattern: "arm,armv8-pmuv3", family: "PMU", reason: "the PMU has no memory interface"),
    Entry(pattern: "arm,cortex-a*-pmu", family: "PMU", reason: "the PMU has no memory interface"),
    Entry(pattern: "fixed-clock", family: "clock", reason: "a fixed clock is a constant"),
    Entry(pattern: "fixed-factor-clock", family: "clock", reason: "a fixed clock is a constant"),
    Entry(pattern: "regulator-fixed", family: "regulator", reason: "a fixed regulator is a constant"),
    Entry(pattern: "gpio-keys", family: "GPIO keys", reason: "GPIO lines only"),
    Entry(pattern: "gpio-leds", family: "GPIO LEDs", reason: "GPIO lines only"),
  ]

  /// The first entry of `table` that one of `compatibles` matches, most
  /// specific compatible first.
  static func match(_ compatibles: [String], in table: [Entry]) -> (compatible: String, entry: Entry)? {
    for compatible in compatibles {
      if let entry = table.first(where: { glob($0.pattern, matches: compatible) }) { return (compatible, entry) }
    }
    return nil
  }

  /// `*` matches any run of characters, everything else itself.
  static func glob(_ pattern: String, matches text: String) -> Bool {
    let parts = pattern.split(separator: "*", omittingEmptySubsequences: false).map(String.init)
    guard parts.count > 1 else { return pattern == text }
    guard text.hasPrefix(parts[0]), let last = parts.last else { return false }
    var rest = Substring(text.dropFirst(parts[0].count))
    for middle in parts.dropFirst().dropLast() where !middle.isEmpty {
      guard let range = rest.range(of: middle) else { return false }
      rest = rest[range.upperBound...]
    }
    return rest.count >= last.count && rest.hasSuffix(last)
  }
}
