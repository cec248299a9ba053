import Testing

@testable import DeviceTree

/// The bindings file: its syntax, its rules' precedence, and the bundled
/// file's coverage of the masters on the boards it claims to know.
@Suite("DMA bindings")
struct DMABindingsTests {
  /// The verdict the rules give a node with these compatibles (most
  /// specific first) and this name.
  func verdict(_ compatibles: [String], name: String = "node@0", bindings: DMABindings = .bundled) throws -> DMABindings.Verdict? {
    let value = compatibles.flatMap { BlobBuilder.string($0) }
    let blob = BlobBuilder(tokens: [.begin(""), .begin(name), .property("compatible", value), .end, .end]).build()
    let tree = try FlattenedDeviceTree(bytes: blob)
    return bindings.decide(tree.nodes[1], in: tree)?.rule.verdict
  }

  @Test("globs: * is any run of characters, everything else itself")
  func globs() {
    #expect(DMABindings.glob("*sdhci*", matches: "rockchip,rk3399-sdhci-5.1"))
    #expect(DMABindings.glob("cdns,*-gem", matches: "cdns,zynqmp-gem"))
    #expect(!DMABindings.glob("cdns,*-gem", matches: "cdns,gem"))
    #expect(DMABindings.glob("generic-ahci", matches: "generic-ahci"))
    #expect(!DMABindings.glob("generic-ahci", matches: "generic-ahci2"))
    #expect(DMABindings.glob("a*b*c", matches: "aXbYc"))
    #expect(!DMABindings.glob("a*b*c", matches: "aXcYb"))
  }

  @Test("the bundled file parses, with no duplicate selector, a family, reason and source on every rule")
  func bundledParses() {
    let rules = DMABindings.bundled.rules
    #expect(rules.count > 150)
    #expect(rules.allSatisfy { !$0.family.isEmpty && !$0.reason.isEmpty && !$0.source.isEmpty })
    #expect(Set(rules.map { "\($0.verdict == .bus) \($0.selector)" }).count == rules.count)
  }

  /// Masters of the boards the file covers, by their compatibles as the
  /// Linux device trees of those SoCs give them.
  static let masters: [(board: String, compatibles: [String])] = [
    ("ZynqMP", ["xlnx,zynqmp-mali", "arm,mali-400"]), ("ZynqMP", ["xlnx,zynqmp-gem", "cdns,gem"]), ("ZynqMP", ["ceva,ahci-1v84"]),
    ("ZynqMP", ["xlnx,zynqmp-dma-1.0"]), ("ZynqMP", ["xlnx,nwl-pcie-2.11"]), ("ZynqMP", ["snps,dwc3"]),
    ("ZynqMP", ["xlnx,zynqmp-8.9a", "arasan,sdhci-8.9a"]), ("ZynqMP", ["xlnx,zynqmp-dpdma"]), ("ZynqMP", ["xlnx,zynqmp-qspi-1.0"]),
    ("Versal", ["xlnx,versal-8.9a", "arasan,sdhci-8.9a"]), ("Versal", ["xlnx,versal-gem", "cdns,gem"]), ("Versal", ["xlnx,versal-cpm-host-1.00"]),
    ("Versal", ["xlnx,versal-ospi-1.0", "cdns,qspi-nor"]),
    ("Layerscape", ["fsl,ls1046a-ahci"]), ("Layerscape", ["fsl,ls1046a-esdhc", "fsl,esdhc"]), ("Layerscape", ["fsl,fman"]),
    ("Layerscape", ["fsl,qoriq-mc"]), ("Layerscape", ["fsl,sec-v5.0", "fsl,sec-v4.0"]), ("Layerscape", ["fsl,vf610-edma"]),
    ("Layerscape", ["fsl,lx2160a-pcie"]),
    ("Tegra", ["nvidia,tegra194-sdhci"]), ("Tegra", ["nvidia,tegra194-eqos", "snps,dwc-qos-ethernet-4.10"]), ("Tegra", ["nvidia,tegra194-xusb"]),
    ("Tegra", ["nvidia,tegra194-pcie"]), ("Tegra", ["nvidia,tegra186-gpcdma"]), ("Tegra", ["nvidia,tegra194-host1x"]), ("Tegra", ["nvidia,gv11b"]),
    ("Juno", ["arm,juno-mali", "arm,mali-t624"]), ("Juno", ["arm,hdlcd"]), ("Juno", ["arm,pl330", "arm,primecell"]), ("Juno", ["generic-ehci"]),
    ("Juno", ["arm,juno-r1-pcie", "plda,xpressrich3-axi", "pci-host-ecam-generic"]),
    ("R-Car", ["renesas,etheravb-r8a7795", "renesas,etheravb-rcar-gen3"]), ("R-Car", ["renesas,sdhi-r8a7795", "renesas,rcar-gen3-sdhi"]),
    ("R-Car", ["renesas,xhci-r8a7795", "renesas,rcar-gen3-xhci"]), ("R-Car", ["renesas,dmac-r8a7795", "renesas,rcar-dmac"]),
    ("R-Car", ["renesas,du-r8a7795"]), ("R-Car", ["renesas,fcpvd"]), ("R-Car", ["renesas,pcie-r8a7795", "renesas,pcie-rcar-gen3"]),
    ("RK3399", ["rockchip,rk3399-gmac"]), ("RK3399", ["rockchip,rk3399-dw-mshc", "rockchip,rk3288-dw-mshc"]), ("RK3399", ["rockchip,rk3399-vop-big"]),
    ("RK3399", ["rockchip,rk3399-pcie"]), ("RK3399", ["rockchip,rk3399-mali", "arm,mali-t860"]), ("RK3399", ["rockchip,rk3399-sdhci-5.1", "arasan,sdhci-5.1"]),
    ("i.MX8", ["fsl,imx8mq-usdhc", "fsl,imx7d-usdhc"]), ("i.MX8", ["fsl,imx8mq-fec", "fsl,imx6sx-fec"]), ("i.MX8", ["vivante,gc"]),
    ("i.MX8", ["fsl,imx8mq-pcie"]), ("i.MX8", ["nxp,imx8mq-dcss"]), ("i.MX8", ["fsl,imx8mq-sdma", "fsl,imx7d-sdma"]),
    ("RPi4", ["brcm,bcm2711-emmc2"]), ("RPi4", ["brcm,bcm2711-genet-v5"]), ("RPi4", ["brcm,bcm2711-pcie"]), ("RPi4", ["brcm,bcm2835-dma"]),
    ("RPi4", ["brcm,2711-v3d"]), ("RPi4", ["brcm,bcm2711-hvs"]), ("RPi4", ["raspberrypi,bcm2835-firmware", "simple-mfd"]),
  ]

  @Test("the bundled file knows the masters of ZynqMP, Versal, Layerscape, Tegra, Juno, R-Car, RK3399, i.MX8 and RPi4", arguments: masters.indices)
  func knownMasters(index: Int) throws {
    let (board, compatibles) = Self.masters[index]
    #expect(try verdict(compatibles) == .master, "\(board): \(compatibles)")
  }

  @Test("common non-masters: UARTs, I2C and SPI controllers, pinctrl, watchdogs, memory controllers, CoreSight links, an ETF")
  func knownNonMasters() throws {
    for compatibles in [
      ["cdns,uart-r1p12"], ["arm,pl011", "arm,primecell"], ["cdns,i2c-r1p14"], ["rockchip,rk3399-pinctrl"], ["cdns,wdt-r1p2"],
      ["nvidia,tegra186-mc"], ["arm,coresight-dynamic-funnel", "arm,primecell"], ["xlnx,zynqmp-rtc"], ["renesas,scif-r8a7795"],
    ] {
      #expect(try verdict(compatibles) == .notMaster, "\(compatibles)")
    }
    #expect(try verdict(["arm,coresight-tmc", "arm,primecell"], name: "etf@20010000") == .notMaster)
    #expect(try verdict(["arm,coresight-tmc", "arm,primecell"], name: "etr@20070000") == .master)
    #expect(try verdict(["acme,frobnicator-2"]) == nil)
  }

  @Test("the first rule in file order that selects a node decides, by any of its compatibles")
  func precedence() throws {
    let bindings = try DMABindings.parse(
      """
      not-master  acme,*-uart  UART: registers only | uart.yaml
      master      acme,*       anything of acme's: DMAs | acme.yaml
      """, file: "t.txt")
    #expect(try verdict(["acme,x-uart"], bindings: bindings) == .notMaster)
    #expect(try verdict(["acme,x-dma", "acme,x-uart"], bindings: bindings) == .notMaster)
    #expect(try verdict(["acme,x-dma"], bindings: bindings) == .master)
  }

  @Test(
    "a malformed rule is refused with file:line",
    arguments: [
      ("master cdns,gem Ethernet: rings\n", 1, "expected '| SOURCE' (the Linux binding or driver) after the reason"),
      ("# c\n\nmaybe cdns,gem Ethernet: rings | x\n", 3, "expected a verdict (master, not-master or bus), found 'maybe'"),
      ("master cdns,gem\n", 1, "expected a selector and 'FAMILY: REASON | SOURCE' after 'master'"),
      ("master cdns,gem Ethernet rings | x\n", 1, "expected 'FAMILY: REASON', found 'Ethernet rings'"),
      ("master cdns,gem Ethernet: rings |  \n", 1, "expected a source (the Linux binding or driver) after '|'"),
      ("master @ Ethernet: rings | x\n", 1, "expected a selector COMPATIBLE, @NODE-NAME or COMPATIBLE@NODE-NAME, found '@'"),
      ("master a Ethernet: rings | x\r\nnot-master a UART: none | y\r\n", 2, "duplicate selector 'a': already on line 1"),
    ])
  func malformed(text: String, line: Int, message: String) {
    #expect(throws: DMABindingsError(file: "b.txt", line: line, message: message)) { try DMABindings.parse(text, file: "b.txt") }
  }

  @Test("a node rule and a bus rule may share a selector")
  func nodeAndBus() throws {
    let bindings = try DMABindings.parse("bus @i2c I2C: bytes | i2c.yaml\nnot-master @i2c I2C: none | i2c.yaml\n", file: "t.txt")
    #expect(bindings.rules.map(\.verdict) == [.bus, .notMaster])
    #expect(DMABindingsError(file: "b.txt", line: 3, message: "m").description == "b.txt:3: error: m")
  }
}
