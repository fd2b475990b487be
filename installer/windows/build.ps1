# Build the Windows bundle and installer of Backoffice (run on Windows 10/11 x64, PowerShell 5.1 or 7):
#
#   powershell -ExecutionPolicy Bypass -File installer\windows\build.ps1 -Python .venv\Scripts\python.exe
#
# Needs: a Python 3.11+ environment with Backoffice installed (pip install .), and Inno Setup 6.3+
# (https://jrsoftware.org/isinfo.php; `winget install JRSoftware.InnoSetup`). PyInstaller is installed
# into the environment if missing.
#
# Produces, in -OutDir (default: dist):
#   backoffice\                                   the one-folder bundle (backoffice.exe: command line and GUI,
#                                                 backoffice-gui.exe: the GUI without a console window)
#   backoffice-VERSION-windows-x64-setup.exe      the per-user installer (installer\windows\backoffice.iss)
#
# Code signing (optional): set BACKOFFICE_SIGN_CERT_SHA1 to the thumbprint of a code-signing certificate in
# the user's certificate store; signtool.exe (Windows SDK) signs the executables, the installer and its
# uninstaller, with an RFC 3161 timestamp.
param(
    [string]$Python = "python",
    [string]$OutDir = "dist"
)
$ErrorActionPreference = "Stop"
$started = Get-Date
$root = Split-Path -Parent (Split-Path -Parent $PSCommandPath)
Set-Location $root
New-Item -ItemType Directory -Force -Path $OutDir | Out-Null
$OutDir = (Resolve-Path $OutDir).Path
$work = Join-Path $root "build\pyinstaller"

function Invoke-Checked([string]$what, [scriptblock]$block) {
    & $block
    if ($LASTEXITCODE -ne 0) { throw "build.ps1: $what failed (exit code $LASTEXITCODE)" }
}

Invoke-Checked "importing backoffice" { & $Python -c "import backoffice" }
$version = (& $Python -c "import backoffice; print(backoffice.__version__)").Trim()

# PyInstaller, and the IANA time-zone database (zoneinfo has no system copy to read on Windows).
Invoke-Checked "pip install" { & $Python -m pip install --quiet "pyinstaller>=6.6" pyinstaller-hooks-contrib tzdata }

# The program icon: resources\icons\backoffice.svg drawn by Qt, written as a multi-size .ico by Pillow.
$icon = Join-Path $work "backoffice.ico"
New-Item -ItemType Directory -Force -Path $work | Out-Null
$renderIcon = @'
import sys
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

app = QGuiApplication(sys.argv[:1])
renderer = QSvgRenderer(sys.argv[1])
image = QImage(256, 256, QImage.Format.Format_ARGB32)
image.fill(Qt.GlobalColor.transparent)
painter = QPainter(image)
painter.setRenderHint(QPainter.RenderHint.Antialiasing)
renderer.render(painter)
painter.end()
png = sys.argv[2] + ".png"
image.save(png, "PNG")
Image.open(png).save(sys.argv[2], sizes=[(16, 16), (20, 20), (24, 24), (32, 32), (48, 48), (64, 64), (128, 128), (256, 256)])
'@
$env:QT_QPA_PLATFORM = "offscreen"
Invoke-Checked "rendering the icon" { $renderIcon | & $Python - "resources\icons\backoffice.svg" $icon }
Remove-Item Env:\QT_QPA_PLATFORM
Copy-Item $icon "installer\windows\backoffice.ico" -Force   # SetupIconFile of the .iss

# The one-folder bundle, from the same spec as Linux and macOS.
$env:BACKOFFICE_ICON = $icon
Invoke-Checked "PyInstaller" {
    & $Python -m PyInstaller --noconfirm --distpath $OutDir --workpath $work installer\backoffice.spec
}
$bundle = Join-Path $OutDir "backoffice"
Invoke-Checked "the bundle's --version" { & (Join-Path $bundle "backoffice.exe") --version }

$sign = $env:BACKOFFICE_SIGN_CERT_SHA1
$signArgs = @()
if ($sign) {
    $signtool = (Get-Command signtool.exe -ErrorAction SilentlyContinue).Source
    if (-not $signtool) { throw "BACKOFFICE_SIGN_CERT_SHA1 is set but signtool.exe (Windows SDK) is not on PATH" }
    Invoke-Checked "signing the executables" {
        & $signtool sign /sha1 $sign /fd sha256 /tr http://timestamp.digicert.com /td sha256 `
            (Join-Path $bundle "backoffice.exe") (Join-Path $bundle "backoffice-gui.exe")
    }
    $signArgs = @("/DSignTool=signtool sign /sha1 $sign /fd sha256 /tr http://timestamp.digicert.com /td sha256 `$f")
}

# The installer.
$iscc = (Get-Command iscc.exe -ErrorAction SilentlyContinue).Source
if (-not $iscc) {
    foreach ($candidate in @("${env:LOCALAPPDATA}\Programs\Inno Setup 6\ISCC.exe", "${env:ProgramFiles(x86)}\Inno Setup 6\ISCC.exe")) {
        if (Test-Path $candidate) { $iscc = $candidate; break }
    }
}
if (-not $iscc) { throw "Inno Setup's ISCC.exe not found: install Inno Setup 6 (winget install JRSoftware.InnoSetup)" }
Invoke-Checked "Inno Setup" {
    & $iscc "/DAppVersion=$version" "/DSourceDir=$bundle" "/O$OutDir" @signArgs installer\windows\backoffice.iss
}

$size = [math]::Round(((Get-ChildItem -Recurse -File $bundle | Measure-Object -Sum Length).Sum) / 1MB)
Write-Host "Bundle size: $size MB unpacked ($bundle)"
Write-Host "Installer: $(Join-Path $OutDir "backoffice-$version-windows-x64-setup.exe")"
Write-Host "Build time: $([math]::Round(((Get-Date) - $started).TotalSeconds)) s"
